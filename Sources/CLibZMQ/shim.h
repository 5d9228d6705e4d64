#ifndef AGOR_CLIBZMQ_SHIM_H
#define AGOR_CLIBZMQ_SHIM_H
#include <zmq.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#endif
