// daemon/fenced.h — route tables and recovery actions that write only through the HA fence.
//
// Purpose: in a group of monitors (ha/ha_node.h) every write — a route change, a gateway
// recovery — passes the fence right before it happens, on the worker that performs it: the
// leader's local deadline and one etcd transaction confirming its term. The decorators keep
// the reconciler and the recovery manager unaware of HA; the daemon wraps what its factories
// open when the config has an `ha` section.
//
// A refused route change fails like a backend error (Unavailable, "not writing: ..."): the
// reconciler retries it with back-off, by which time the engine has closed the write gate (a
// follower) or the fence passes again. A refused recovery attempt ends as failed with the
// reason, without running the action.
//
// Threading: list() and apply() run on executor workers (as for any RouteTable); the
// recovery decorator's start()/cancel() on the engine thread, its fence on a worker.
// Metrics: the fence's own (HaView).
#pragma once

#include <functional>
#include <memory>

#include "base/error.h"
#include "recovery/recovery_action.h"
#include "route/route_table.h"
#include "runtime/executor.h"

namespace pathpilot::daemon {

// Returns ok when this monitor may write now (ha::HaNode::fence).
using WriteFence = std::function<Result<void>()>;

std::unique_ptr<route::RouteTable> fencedTable(std::unique_ptr<route::RouteTable> table,
                                               WriteFence fence);

std::unique_ptr<recovery::RecoveryAction> fencedAction(
    std::unique_ptr<recovery::RecoveryAction> action, WriteFence fence,
    runtime::Executor& executor);

}  // namespace pathpilot::daemon
