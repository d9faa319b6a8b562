/* diffode.h - everything: include this one header to use the library. */
#ifndef DIFFODE_DIFFODE_H
#define DIFFODE_DIFFODE_H

#include "diffode/status.h"
#include "diffode/schedule.h"
#include "diffode/model.h"
#include "diffode/ode.h"
#include "diffode/grid.h"
#include "diffode/solver.h"
#include "diffode/sample.h"
#include "diffode/io.h"
#include "diffode/fileio.h"
#include "diffode/safetensors.h"
#include "diffode/mlp.h"
#include "diffode/data.h"
#include "diffode/train.h"
#include "diffode/likelihood.h"
#include "diffode/idx.h"
#include "diffode/ideal.h"
#include "diffode/png.h"
#include "diffode/spec.h"
#include "diffode/limits.h"
#include "diffode/noise.h"
#include "diffode/law.h"
#include "diffode/datalaw.h"
#include "diffode/guidance.h"
#include "diffode/sharpened.h"

#endif
