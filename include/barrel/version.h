/* version.h: barrel's version, the only place it is written. */
#ifndef BARREL_VERSION_H
#define BARREL_VERSION_H
#define BARREL_VERSION "0.1.0"
#endif
