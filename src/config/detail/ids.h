// config/detail/ids.h — format checks for the names and identifiers a config contains.
//
// Purpose: catch a mistyped AWS id, region or interface name at `pathpilot check` time instead
// of at the first failover, when the EC2 API would reject it. Formats follow what AWS documents
// for resource ids (prefix, dash, 8 or 17 lowercase hex digits) and what Linux accepts for
// interface names (IFNAMSIZ).
// Module-private: only config/ includes it.
// Threading: pure functions.
#pragma once

#include <string_view>

namespace pathpilot::config::detail {

// `text` is `prefix` + "-" + 8 or 17 lowercase hexadecimal digits ("vgw-078bcc55",
// "i-0e1466e8a5dd4892c"). `prefix` has no dash ("vgw").
bool isAwsId(std::string_view text, std::string_view prefix);

// An AWS region name: "ap-southeast-1", "cn-north-1", "us-gov-west-1".
bool isRegionName(std::string_view text);

// An availability zone name or id: lowercase letters, digits and dashes, 1..32 bytes
// ("ap-southeast-1a", "apse1-az1"); on-premises deployments may use their own ("dc1-room-a").
bool isZoneName(std::string_view text);

// A name for paths and tables: [A-Za-z0-9][A-Za-z0-9_.-]{0,63}.
bool isSimpleName(std::string_view text);

// A Linux interface name: 1..15 bytes, printable ASCII, no '/', ':' or whitespace.
bool isInterfaceName(std::string_view text);

}  // namespace pathpilot::config::detail
