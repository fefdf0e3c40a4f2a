// Test helpers: read the classic pcap files under tests/data/bfd and take the UDP payload out
// of each frame (Ethernet, optional 802.1Q tag, IPv4 or IPv6), and read tcpdump's -v text of
// the same captures into the BFD fields it printed. Bounds are checked everywhere: the
// captures include a deliberately malformed one.
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace pathpilot::bfd::testing {

inline std::string dataPath(const std::string& rel) {
  return std::string(PP_SOURCE_DIR) + "/tests/data/bfd/" + rel;
}

inline std::vector<std::uint8_t> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
}

struct PcapRecord {
  std::vector<std::uint8_t> frame;
};

struct Pcap {
  std::uint32_t linktype = 0;
  std::vector<PcapRecord> records;
};

// Classic pcap (magic a1b2c3d4 in either byte order). nullopt when the header is not one.
inline std::optional<Pcap> readPcap(const std::string& path) {
  const auto d = readFile(path);
  if (d.size() < 24) {
    return std::nullopt;
  }
  bool swap = false;
  const auto le32 = [&](std::size_t at) {
    std::uint32_t v = std::uint32_t{d[at]} | (std::uint32_t{d[at + 1]} << 8) |
                      (std::uint32_t{d[at + 2]} << 16) | (std::uint32_t{d[at + 3]} << 24);
    if (swap) {
      v = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) | (v >> 24);
    }
    return v;
  };
  if (le32(0) != 0xa1b2c3d4u) {
    swap = true;
    if (le32(0) != 0xa1b2c3d4u) {
      return std::nullopt;
    }
  }
  Pcap p;
  p.linktype = le32(20);
  std::size_t at = 24;
  while (at + 16 <= d.size()) {
    const std::size_t incl = le32(at + 8);
    at += 16;
    if (incl > d.size() - at) {
      break;
    }
    p.records.push_back({std::vector<std::uint8_t>(d.begin() + static_cast<long>(at),
                                                   d.begin() + static_cast<long>(at + incl))});
    at += incl;
  }
  return p;
}

struct Udp {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint8_t ttl = 0;
  std::vector<std::uint8_t> payload;
};

// The UDP datagram of an Ethernet frame, or nullopt. The payload is what the UDP length says,
// cut to the captured bytes.
inline std::optional<Udp> udpOf(const std::vector<std::uint8_t>& f) {
  const auto be16 = [&](std::size_t at) {
    return static_cast<std::uint16_t>((f[at] << 8) | f[at + 1]);
  };
  std::size_t at = 12;
  if (f.size() < at + 2) {
    return std::nullopt;
  }
  std::uint16_t ethertype = be16(at);
  at += 2;
  if (ethertype == 0x8100 && f.size() >= at + 4) {
    ethertype = be16(at + 2);
    at += 4;
  }
  Udp u;
  if (ethertype == 0x0800) {
    if (f.size() < at + 20 || (f[at] >> 4) != 4) {
      return std::nullopt;
    }
    const std::size_t ihl = std::size_t{f[at] & 0x0fu} * 4;
    if (ihl < 20 || f[at + 9] != 17 || f.size() < at + ihl) {
      return std::nullopt;
    }
    u.ttl = f[at + 8];
    at += ihl;
  } else if (ethertype == 0x86dd) {
    if (f.size() < at + 40 || f[at + 6] != 17) {
      return std::nullopt;
    }
    u.ttl = f[at + 7];
    at += 40;
  } else {
    return std::nullopt;
  }
  if (f.size() < at + 8) {
    return std::nullopt;
  }
  u.src_port = be16(at);
  u.dst_port = be16(at + 2);
  const std::size_t udp_len = be16(at + 4);
  const std::size_t end = std::min(f.size(), at + std::max<std::size_t>(udp_len, 8));
  u.payload.assign(f.begin() + static_cast<long>(at + 8), f.begin() + static_cast<long>(end));
  return u;
}

// One packet as tcpdump -v printed it (BFD fields only; intervals in ms as printed).
struct Printed {
  int number = 0;
  std::string state;
  std::string flags;  // the text between [ ], e.g. "Poll" or "none"
  unsigned diag = 0;
  unsigned detect_mult = 0;
  unsigned length = 0;
  std::uint32_t my_disc = 0;
  std::uint32_t your_disc = 0;
  unsigned tx_ms = 0, rx_ms = 0, echo_ms = 0;
  std::optional<unsigned> auth_type, auth_len, key_id;
  std::optional<std::uint32_t> sequence;
  std::string password;
  std::string digest_hex;
};

inline std::vector<Printed> readTcpdumpV(const std::string& path) {
  std::ifstream in(path);
  std::vector<Printed> out;
  const std::regex number(R"(^\s*(\d+)\s+\d{4}-\d\d-\d\d )");
  const std::regex state(R"(State (\w+), Flags: \[([^\]]*)\], Diagnostic: .*\(0x([0-9a-f]+)\))");
  const std::regex mult(R"(Detection Timer Multiplier: (\d+) .* BFD Length: (\d+))");
  const std::regex disc(R"(My Discriminator: 0x([0-9a-f]+), Your Discriminator: 0x([0-9a-f]+))");
  const std::regex tx(R"(Desired min Tx Interval:\s+(\d+) ms)");
  const std::regex rx(R"(Required min Rx Interval:\s+(\d+) ms)");
  const std::regex echo(R"(Required min Echo Interval:\s+(\d+) ms)");
  const std::regex auth(R"(Authentication: .*\((\d+)\), length: (\d+))");
  const std::regex seq(R"(Auth Key ID: (\d+), Sequence Number: 0x([0-9a-f]+))");
  const std::regex pw(R"(Auth Key ID: (\d+), Password: (\S+))");
  const std::regex dig(R"((?:Digest|Hash): ([0-9a-f]+))");
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, number)) {
      out.push_back({});
      out.back().number = std::stoi(m[1]);
    }
    if (out.empty()) {
      continue;
    }
    Printed& p = out.back();
    if (std::regex_search(line, m, state)) {
      p.state = m[1];
      p.flags = m[2];
      p.diag = static_cast<unsigned>(std::stoul(m[3], nullptr, 16));
    } else if (std::regex_search(line, m, mult)) {
      p.detect_mult = static_cast<unsigned>(std::stoul(m[1]));
      p.length = static_cast<unsigned>(std::stoul(m[2]));
    } else if (std::regex_search(line, m, disc)) {
      p.my_disc = static_cast<std::uint32_t>(std::stoul(m[1], nullptr, 16));
      p.your_disc = static_cast<std::uint32_t>(std::stoul(m[2], nullptr, 16));
    } else if (std::regex_search(line, m, tx)) {
      p.tx_ms = static_cast<unsigned>(std::stoul(m[1]));
    } else if (std::regex_search(line, m, rx)) {
      p.rx_ms = static_cast<unsigned>(std::stoul(m[1]));
    } else if (std::regex_search(line, m, echo)) {
      p.echo_ms = static_cast<unsigned>(std::stoul(m[1]));
    } else if (std::regex_search(line, m, auth)) {
      p.auth_type = static_cast<unsigned>(std::stoul(m[1]));
      p.auth_len = static_cast<unsigned>(std::stoul(m[2]));
    } else if (std::regex_search(line, m, seq)) {
      p.key_id = static_cast<unsigned>(std::stoul(m[1]));
      p.sequence = static_cast<std::uint32_t>(std::stoul(m[2], nullptr, 16));
    } else if (std::regex_search(line, m, pw)) {
      p.key_id = static_cast<unsigned>(std::stoul(m[1]));
      p.password = m[2];
    } else if (std::regex_search(line, m, dig)) {
      p.digest_hex = m[1];
    }
  }
  return out;
}

inline std::vector<std::uint8_t> fromHex(const std::string& hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

inline std::string toHex(const std::uint8_t* data, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

}  // namespace pathpilot::bfd::testing
