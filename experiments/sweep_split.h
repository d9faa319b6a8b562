/* sweep_split.h - a model whose eps calls run in two halves of their rows, the second on a
 * helper thread, for the reference solves of `diffode run --jobs` (sweep_ref.c): a
 * reference is the one serial part of a sweep, since every row measured against it waits
 * for it, and its adaptive step control spans the whole batch, so the batch cannot be
 * split; each model call can. Only models with eps_xbar (model.h), whose rows are computed
 * one by one, are split: the halves then give the whole call's numbers bit for bit. */
#ifndef DIFFODE_SWEEP_SPLIT_H
#define DIFFODE_SWEEP_SPLIT_H

#include <stddef.h>

#include "diffode/model.h"

typedef struct split_model split_model;

/* 1 if inner's calls can be split (it has eps_xbar). */
int split_model_applies(const dode_model *inner);

/* Starts the helper thread of a split model over inner (which must apply and outlive it);
 * NULL with a message when the thread or memory cannot be had. */
split_model *split_model_start(const dode_model *inner, char *err, size_t errlen);

/* The model to solve with: inner's name, dim, eps and eps_xbar (split) and workspace. */
const dode_model *split_model_get(const split_model *s);

/* Stops the helper and frees s (accepts NULL). */
void split_model_stop(split_model *s);

#endif
