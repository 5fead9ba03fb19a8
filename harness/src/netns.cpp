#include "netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vipcheck {

NetnsFd::NetnsFd(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) {
        throw std::runtime_error("cannot open network namespace " + path + ": " + std::strerror(errno));
    }
}

NetnsFd::~NetnsFd() {
    if (fd_ >= 0) ::close(fd_);
}

void enter_netns(const NetnsFd& ns) {
    if (::setns(ns.fd(), CLONE_NEWNET) != 0) {
        throw std::runtime_error(std::string("setns(CLONE_NEWNET) failed: ") + std::strerror(errno));
    }
}

void await_setup(std::future<void>& setup, std::thread& worker, int stop_fd) {
    try {
        setup.get();
    } catch (...) {
        worker.join();
        ::close(stop_fd);
        throw;
    }
}

}  // namespace vipcheck
