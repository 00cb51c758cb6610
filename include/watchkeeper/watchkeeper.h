/* SPDX-License-Identifier: Apache-2.0 */
/* Umbrella header: everything public. */
#ifndef WK_WATCHKEEPER_H
#define WK_WATCHKEEPER_H

#include "watchkeeper/error.h"
#include "watchkeeper/event.h"
#include "watchkeeper/log.h"
#include "watchkeeper/store.h"
#include "watchkeeper/rule.h"
#include "watchkeeper/hunt.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/timefmt.h"
#include "watchkeeper/version.h"

#endif /* WK_WATCHKEEPER_H */
