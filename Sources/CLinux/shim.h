#ifndef AGOR_CLINUX_SHIM_H
#define AGOR_CLINUX_SHIM_H
/* The Linux calls the Bus uses beside libzmq: eventfd (waking a socket thread) and inotify
   (watching the directory of certificates). */
#include <sys/eventfd.h>
#include <sys/inotify.h>
#endif
