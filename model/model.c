/* model.c - what every model shares: freeing through its own free callback, and the
 * workspace its hot callbacks take (model.h). */
#include "diffode/model.h"
#include "diffode/status.h"

void dode_model_free(dode_model *m)
{
    if (m != NULL && m->free != NULL)
        m->free(m);
}

int dode_model_workspace_new(const dode_model *m, size_t n, void **ws, char *err,
                             size_t errlen)
{
    *ws = NULL;
    if (m == NULL || n == 0)
        return dode_fail(err, errlen, DODE_EINVAL, "model workspace: need a model and "
                         "n >= 1 rows (got %zu)", n);
    if (m->workspace_new == NULL)
        return DODE_OK;
    if ((*ws = m->workspace_new(m, n)) == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "model %s: cannot allocate a workspace "
                         "for %zu rows", m->name, n);
    return DODE_OK;
}

void dode_model_workspace_free(const dode_model *m, void *ws)
{
    if (m != NULL && ws != NULL && m->workspace_free != NULL)
        m->workspace_free(ws);
}
