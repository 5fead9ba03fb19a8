#include "sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "netns.h"

namespace vipcheck {
namespace {

std::string path_of(const std::string& key) {
    if (key.empty() || key.find('/') != std::string::npos || key.find("..") != std::string::npos) {
        throw std::invalid_argument(key + ": not a sysctl key");
    }
    std::string path = "/proc/sys/" + key;
    std::replace(path.begin() + 10, path.end(), '.', '/');
    return path;
}

std::invalid_argument refused(const std::string& what) {
    return std::invalid_argument(what + ": " + std::strerror(errno));
}

void write_one(const Sysctl& entry) {
    const int fd = ::open(path_of(entry.first).c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw refused(entry.first);
    const ssize_t n = ::write(fd, entry.second.data(), entry.second.size());
    const int saved = errno;
    ::close(fd);
    errno = saved;
    if (n != ssize_t(entry.second.size())) throw refused(entry.first + "=" + entry.second);
}

std::string read_one(const std::string& key) {
    const int fd = ::open(path_of(key).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw refused(key);
    std::string text;
    char buf[256];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, size_t(n));
    ::close(fd);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
}

}  // namespace

void write_sysctls(const std::string& netns, const std::vector<Sysctl>& values) {
    run_in_netns(netns, [&]() {
        for (const auto& entry : values) write_one(entry);
    });
}

std::vector<Sysctl> read_sysctls(const std::string& netns, const std::vector<std::string>& keys) {
    return run_in_netns(netns, [&]() {
        std::vector<Sysctl> out;
        for (const auto& key : keys) out.emplace_back(key, read_one(key));
        return out;
    });
}

}  // namespace vipcheck
