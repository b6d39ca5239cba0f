# seq's CMake package: find_package(seq) gives the INTERFACE target seq::seq (include
# path and libm). seq is header-only: one source file of yours defines SEQ_IMPLEMENTATION
# (and SEQ_<NAME>_IMPLEMENTATION for the other headers) before including them.
#     find_package(seq 0.1 REQUIRED)                  target_link_libraries(app PRIVATE seq::seq)
#     find_package(seq 0.1 REQUIRED COMPONENTS MPI)   target_link_libraries(app PRIVATE seq::mpi)
# seq::mpi adds MPI::MPI_C and SEQ_USE_MPI for seq_mpi.h. Installed by `make install` into
# <prefix>/lib/cmake/seq; the prefix is found relative to this file, so it relocates.
get_filename_component(_seq_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET seq::seq)
  add_library(seq::seq INTERFACE IMPORTED)
  set_target_properties(seq::seq PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_seq_prefix}/include")
  if(UNIX)
    set_property(TARGET seq::seq PROPERTY INTERFACE_LINK_LIBRARIES m)
  endif()
endif()

if("MPI" IN_LIST seq_FIND_COMPONENTS AND NOT TARGET seq::mpi)
  include(CMakeFindDependencyMacro)
  find_dependency(MPI COMPONENTS C)
  add_library(seq::mpi INTERFACE IMPORTED)
  set_target_properties(seq::mpi PROPERTIES
    INTERFACE_LINK_LIBRARIES "seq::seq;MPI::MPI_C"
    INTERFACE_COMPILE_DEFINITIONS SEQ_USE_MPI)
endif()
set(seq_MPI_FOUND TRUE)

set(seq_INCLUDE_DIRS "${_seq_prefix}/include")
unset(_seq_prefix)
