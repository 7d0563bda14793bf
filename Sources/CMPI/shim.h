// Open MPI's C API for Swift (Debian: libopenmpi-dev). Built only with the package trait MPI.
//
// Open MPI's predefined handles (MPI_COMM_WORLD, MPI_BYTE, ...) are macros that cast the
// address of an incomplete global struct, which Swift cannot import. Each becomes a static
// inline getter that Swift sees as a read-only global of the same name.
#include <mpi.h>

#define CMPI_GETTER(T, NAME, VALUE) \
    static inline T cmpi_##NAME(void) __attribute__((swift_name("getter:" #NAME "()"))); \
    static inline T cmpi_##NAME(void) { return VALUE; }

CMPI_GETTER(MPI_Comm, MPI_COMM_WORLD, MPI_COMM_WORLD)
CMPI_GETTER(MPI_Datatype, MPI_BYTE, MPI_BYTE)
CMPI_GETTER(MPI_Datatype, MPI_FLOAT, MPI_FLOAT)
CMPI_GETTER(MPI_Datatype, MPI_INT, MPI_INT)
CMPI_GETTER(MPI_Op, MPI_SUM, MPI_SUM)
CMPI_GETTER(MPI_Op, MPI_MAX, MPI_MAX)
CMPI_GETTER(MPI_Errhandler, MPI_ERRORS_RETURN, MPI_ERRORS_RETURN)
CMPI_GETTER(MPI_Info, MPI_INFO_NULL, MPI_INFO_NULL)
CMPI_GETTER(void *, MPI_IN_PLACE, MPI_IN_PLACE)
