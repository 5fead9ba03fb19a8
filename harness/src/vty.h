// FRR's vtysh protocol on one daemon's unix socket: a command ends in a NUL, the answer is its
// output followed by three NULs and the command's status. No shell, no process per question.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vipcheck {

struct VtyAnswer {
    bool answered = false;  // the whole answer, status included, arrived
    int status = -1;        // FRR's CMD_* code: 0 is CMD_SUCCESS
    std::string output;
    std::string error;      // why there is no answer: the socket's errno text, or a timeout
    uint64_t waited_ns = 0;
};

// Asks `command` on the daemon listening at socket_path (e.g. NODE_DIR/zebra.vty), after `enable`
// as vtysh does (a new vty starts in the view node, where most show commands are not). Connects
// until the socket accepts (a daemon just started may not listen yet) and reads until the
// command's status byte, all within timeout_ms. Unix sockets live in the file system: no
// namespace to enter.
VtyAnswer vty_command(const std::string& socket_path, const std::string& command, uint32_t timeout_ms);

// Removes every whole answer from the front of `received`: (status, output) each, in order.
std::vector<std::pair<int, std::string>> take_vty_answers(std::string& received);

}  // namespace vipcheck
