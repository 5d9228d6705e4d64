#ifndef AGOR_CLIBZMQ_SHIM_H
#define AGOR_CLIBZMQ_SHIM_H
#include <zmq.h>
#endif
