/* model.c - what every model shares: freeing through its own free callback (model.h). */
#include "diffode/model.h"

void dode_model_free(dode_model *m)
{
    if (m != NULL && m->free != NULL)
        m->free(m);
}
