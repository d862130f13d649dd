/* zoo.h: one configured instance of every stage type (all but the port
 * stages), each behind `parse` as a pipeline would have it, so that the
 * malformed-frame test and the stage fuzz target cover every stage there
 * is: a stage type with no entry in the zoo's table fails sl_zoo_init. */
#ifndef SL_TEST_ZOO_H
#define SL_TEST_ZOO_H

#include <stdint.h>

/* Build the zoo (after sl_h_eal). dir: a scratch directory for the files
 * stages read and write (rule lists, captures). */
void sl_zoo_init(const char *dir);
unsigned sl_zoo_count(void);
const char *sl_zoo_name(unsigned i);
/* Send frame through parse and zoo stage i, twice in one burst: as one
 * segment and as two cut at `cut`. Aborts, naming the stage, when a
 * packet is not accounted for (in x copies == out + drops) or an mbuf is
 * not returned to the pool. */
void sl_zoo_feed(unsigned i, const uint8_t *frame, uint16_t len, uint16_t cut);
void sl_zoo_fini(void);

#endif
