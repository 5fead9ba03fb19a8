// A node's sysctls, written and read from a thread inside its namespace: /proc/sys/net belongs
// to the namespace of the thread that opens it, so no process is started per node.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace vipcheck {

using Sysctl = std::pair<std::string, std::string>;  // dotted key ("net.ipv4.ip_forward"), value

// Writes each value in order; a key the namespace lacks or a value the kernel refuses throws
// std::invalid_argument naming the key and the kernel's reason.
void write_sysctls(const std::string& netns, const std::vector<Sysctl>& values);

// The values the kernel reports now, as /proc/sys holds them (without the newline).
std::vector<Sysctl> read_sysctls(const std::string& netns, const std::vector<std::string>& keys);

}  // namespace vipcheck
