#ifndef AGOR_CSODIUM_SHIM_H
#define AGOR_CSODIUM_SHIM_H
#include <sodium.h>
#endif
