/* What the files of src/dist share: the communicator and the MPI error helpers. Included
 * only inside src/dist (MPI=1). */
#ifndef DN_DIST_INTERNAL_H
#define DN_DIST_INTERNAL_H

#include <stddef.h>

#include <mpi.h>

/* A duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN; MPI_COMM_NULL before dist_init. */
extern MPI_Comm dist_comm;

/* 0 for MPI_SUCCESS; else -1 and "rank r of n: <what> failed: <MPI's text>" in err. */
int dist_mpi_error(int rc, const char *what, char *err, size_t errlen);
/* For calls that cannot return an error to their caller (batch-norm sums inside a layer):
 * a failed call aborts every rank with the message (dist_abort). */
void dist_check_or_abort(int rc, const char *what);

#endif
