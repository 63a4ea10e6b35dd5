/* Placeholder: the configurable C test sink is written in this file. */
#include "herald_sink.h"
