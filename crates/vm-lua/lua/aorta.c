/* aorta: reads the interpreter state the public API does not expose. */
#include "lstate.h"

/* Instructions left before the count hook fires next, counted over all threads (for exact
   gas; see luaG_traceexec). */
int aorta_hookcount (lua_State *L) {
  return G(L)->aorta_hookcount;
}
