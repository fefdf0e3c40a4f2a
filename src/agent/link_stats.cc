#include "agent/link_stats.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

namespace pathpilot::agent {
namespace {

struct SocketCloser {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};

struct Parsed {
  const nlattr* attrs[IFLA_MAX + 1] = {};
};

int attrCallback(const nlattr* attr, void* data) {
  auto* parsed = static_cast<Parsed*>(data);
  int type = mnl_attr_get_type(attr);
  if (mnl_attr_type_valid(attr, IFLA_MAX) < 0) {
    return MNL_CB_OK;  // newer kernel attribute: skip
  }
  parsed->attrs[type] = attr;
  return MNL_CB_OK;
}

int linkCallback(const nlmsghdr* nlh, void* data) {
  auto* out = static_cast<std::vector<LinkStats>*>(data);
  if (nlh->nlmsg_type != RTM_NEWLINK) {
    return MNL_CB_OK;
  }
  auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  Parsed parsed;
  if (mnl_attr_parse(nlh, sizeof(*ifi), attrCallback, &parsed) < 0) {
    return MNL_CB_ERROR;
  }
  LinkStats s;
  s.index = static_cast<std::uint32_t>(ifi->ifi_index);
  if (const nlattr* a = parsed.attrs[IFLA_IFNAME]) {
    s.name = mnl_attr_get_str(a);
  }
  bool link_up = (ifi->ifi_flags & IFF_UP) != 0;
  if (const nlattr* a = parsed.attrs[IFLA_OPERSTATE]) {
    std::uint8_t state = mnl_attr_get_u8(a);
    s.oper_up = state == IF_OPER_UP || (state == IF_OPER_UNKNOWN && link_up);
  } else {
    s.oper_up = link_up;
  }
  if (const nlattr* a = parsed.attrs[IFLA_STATS64];
      a != nullptr && mnl_attr_get_payload_len(a) >= sizeof(rtnl_link_stats64)) {
    rtnl_link_stats64 st;
    std::memcpy(&st, mnl_attr_get_payload(a), sizeof st);
    s.rx_bytes = st.rx_bytes;
    s.tx_bytes = st.tx_bytes;
    s.rx_packets = st.rx_packets;
    s.tx_packets = st.tx_packets;
    s.rx_errors = st.rx_errors;
    s.tx_errors = st.tx_errors;
    s.rx_dropped = st.rx_dropped;
    s.tx_dropped = st.tx_dropped;
  }
  out->push_back(std::move(s));
  return MNL_CB_OK;
}

}  // namespace

Result<std::vector<LinkStats>> NetlinkLinkStats::read() {
  std::unique_ptr<mnl_socket, SocketCloser> sock(mnl_socket_open(NETLINK_ROUTE));
  if (!sock) {
    return fail(Error::fromErrno("netlink: socket", errno));
  }
  if (mnl_socket_bind(sock.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return fail(Error::fromErrno("netlink: bind", errno));
  }
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  auto seq = static_cast<unsigned int>(std::time(nullptr));
  nlh->nlmsg_seq = seq;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  if (mnl_socket_sendto(sock.get(), nlh, nlh->nlmsg_len) < 0) {
    return fail(Error::fromErrno("netlink: RTM_GETLINK", errno));
  }
  unsigned int portid = mnl_socket_get_portid(sock.get());
  std::vector<LinkStats> out;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(Error::fromErrno("netlink: link dump", errno));
    }
    int r = mnl_cb_run(buf.data(), static_cast<std::size_t>(n), seq, portid, linkCallback, &out);
    if (r == MNL_CB_STOP) {
      break;
    }
    if (r < 0) {
      return fail(Error::fromErrno("netlink: link dump", errno));
    }
  }
  return out;
}

}  // namespace pathpilot::agent
