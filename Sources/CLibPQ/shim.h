// libpq, as is: no shims needed.
#pragma once
#include <libpq-fe.h>
