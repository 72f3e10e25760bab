/* aorta: reads the interpreter state the public API does not expose. */
#include "lstate.h"

/* Instructions left before the count hook fires next (for exact gas). */
int aorta_hookcount (lua_State *L) {
  return L->hookcount;
}
