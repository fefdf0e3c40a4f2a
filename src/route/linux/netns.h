// route/linux/netns.h — doing something inside another network namespace.
//
// Purpose: pathpilot may program the routing tables of a namespace other than its own (the
// lab's "vpc" router namespace, a VRF-like container). A netlink socket belongs to the
// namespace of the thread that created it, for its whole life, so it is enough to step into
// the target namespace just while creating the socket: runInNetns() enters it on the calling
// thread, runs `fn`, and moves the thread back.
//
// Naming: "" is the caller's own namespace; a plain name is /run/netns/<name> (what
// `ip netns add` creates); an absolute path is used as is (/proc/<pid>/ns/net,
// /proc/self/fd/<n>).
//
// Threading: affects only the calling thread, for the duration of the call.
// Metrics: none.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace pathpilot::route {

// The file that names `netns` ("" stays ""). InvalidArgument for "..", "." or a name with '/'.
[[nodiscard]] Result<std::string> netnsPath(std::string_view netns);

// Runs `fn` with the calling thread in `netns`, then returns it to its previous namespace.
// Errors: NotFound (no such namespace), PermissionDenied (setns needs CAP_SYS_ADMIN).
// Failing to move back aborts (PP_CHECK): a worker stranded in a foreign namespace would
// program the wrong routes.
[[nodiscard]] Result<void> runInNetns(std::string_view netns, const std::function<void()>& fn);

// " (netns lab-vpc)" or "" — for error messages.
std::string netnsSuffix(std::string_view netns);

}  // namespace pathpilot::route
