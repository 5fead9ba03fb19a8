// The vtysh protocol against a fake daemon on a unix socket: what FRR's lib/vty.c does for a
// VTY_SHELL_SERV client, written here by what it sends, not by its code.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "vty.h"

using namespace vipcheck;

namespace {

// A private folder for one test's socket, removed with it.
struct SocketFolder {
    std::string dir;
    SocketFolder() {
        char pattern[] = "/tmp/vipcheck-vty-XXXXXX";
        dir = ::mkdtemp(pattern);
    }
    ~SocketFolder() {
        ::unlink(path().c_str());
        ::rmdir(dir.c_str());
    }
    std::string path() const { return dir + "/zebra.vty"; }
};

// True once thread `tid` (set by it, 0 before) sleeps in nanosleep, as vty_command does between
// connects to a socket that is not there yet; false after 5 s.
bool pausing_between_connects(const std::atomic<pid_t>& tid) {
    for (int tries = 0; tries < 5000; ++tries) {
        if (const pid_t t = tid.load()) {
            std::ifstream syscall_file("/proc/self/task/" + std::to_string(t) + "/syscall");
            long number = -1;
            if (syscall_file >> number && (number == SYS_nanosleep || number == SYS_clock_nanosleep)) return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polls the asker's state, not a head start
    }
    return false;
}

int listen_at(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un at{};
    at.sun_family = AF_UNIX;
    std::snprintf(at.sun_path, sizeof at.sun_path, "%s", path.c_str());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 || ::listen(fd, 4) != 0) return -1;
    return fd;
}

std::string read_command(int client) {
    std::string command;
    char c;
    while (::recv(client, &c, 1, 0) == 1 && c != '\0') command += c;
    return command;
}

std::string trailer(int status) { return std::string("\0\0\0", 3) + char(status); }

// Serves one client as a daemon does: answers `enable`, then reads one command and writes each
// chunk of `reply` separately. Returns the commands it read.
std::vector<std::string> serve_once(int listener, const std::vector<std::string>& reply, int enable_status = 0) {
    int client = ::accept(listener, nullptr, nullptr);
    std::vector<std::string> commands{read_command(client)};
    const std::string enabled = trailer(enable_status);
    ::send(client, enabled.data(), enabled.size(), MSG_NOSIGNAL);
    if (enable_status == 0) commands.push_back(read_command(client));
    for (const auto& chunk : reply) {
        ::send(client, chunk.data(), chunk.size(), MSG_NOSIGNAL);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // separate reads on the client
    }
    ::close(client);
    return commands;
}

// Asks `command` of a daemon that serves one client with `reply` (after answering `enable` with
// enable_status), as FRR's daemons do; the commands the daemon read land in *commands when given.
VtyAnswer ask_a_daemon_serving(const SocketFolder& folder, const std::string& command,
                               const std::vector<std::string>& reply, int enable_status = 0,
                               std::vector<std::string>* commands = nullptr) {
    const int listener = listen_at(folder.path());
    if (listener < 0) {
        ADD_FAILURE() << "cannot listen at " << folder.path();
        return {};
    }
    std::thread daemon([&] {
        auto read = serve_once(listener, reply, enable_status);
        if (commands) *commands = read;
    });
    const VtyAnswer answer = vty_command(folder.path(), command, 2000);
    daemon.join();
    ::close(listener);
    return answer;
}

}  // namespace

TEST(Vty, TakesWholeAnswersAndKeepsAPartOne) {
    std::string received = trailer(0) + "ok\n" + trailer(2) + std::string("par\0\0", 5);
    const auto answers = take_vty_answers(received);
    ASSERT_EQ(answers.size(), 2u);
    EXPECT_EQ(answers[0], std::make_pair(0, std::string()));
    EXPECT_EQ(answers[1], std::make_pair(2, std::string("ok\n")));
    EXPECT_EQ(received, std::string("par\0\0", 5));  // cut before its status: kept for the next read
    received += std::string("\0", 1) + char(0);
    EXPECT_EQ(take_vty_answers(received).at(0), std::make_pair(0, std::string("par")));
    EXPECT_TRUE(received.empty());
}

TEST(Vty, SendsTheCommandAndReadsAnAnswerSplitAcrossWrites) {
    SocketFolder folder;
    std::vector<std::string> commands;
    const VtyAnswer a = ask_a_daemon_serving(
        folder, "show version", {"Hello, this is FRR", std::string("outing\n\0", 8), std::string("\0\0", 2) + char(0)}, 0,
        &commands);
    EXPECT_EQ(commands, (std::vector<std::string>{"enable", "show version"}));
    ASSERT_TRUE(a.answered) << a.error;
    EXPECT_EQ(a.status, 0);
    EXPECT_EQ(a.output, "Hello, this is FRRouting\n");
}

TEST(Vty, ReportsTheCommandsStatus) {
    SocketFolder folder;
    const VtyAnswer a = ask_a_daemon_serving(folder, "frobnicate", {"% Unknown command: frobnicate\n" + trailer(2)});
    ASSERT_TRUE(a.answered) << a.error;
    EXPECT_EQ(a.status, 2);  // CMD_ERR_NO_MATCH
    EXPECT_EQ(a.output, "% Unknown command: frobnicate\n");
}

TEST(Vty, ARefusedEnableIsNoAnswer) {
    SocketFolder folder;
    const VtyAnswer a = ask_a_daemon_serving(folder, "show version", {}, 1);
    EXPECT_FALSE(a.answered);
    EXPECT_NE(a.error.find("enable refused"), std::string::npos) << a.error;
}

TEST(Vty, WaitsForASocketThatAppearsLater) {
    SocketFolder folder;
    std::atomic<pid_t> asker{0};
    VtyAnswer a;
    std::thread asking([&] {
        asker = static_cast<pid_t>(::syscall(SYS_gettid));
        a = vty_command(folder.path(), "show version", 5000);
    });
    // The daemon appears only once the asker found no socket and paused to try again: an order,
    // not a head start of 50 ms, which a starved asker overtook (48 ms waited beside a busy core).
    ASSERT_TRUE(pausing_between_connects(asker)) << "the asker never paused for the missing socket";
    const int listener = listen_at(folder.path());
    serve_once(listener, {"up\n" + trailer(0)});
    ::close(listener);
    asking.join();
    ASSERT_TRUE(a.answered) << a.error;
    EXPECT_EQ(a.output, "up\n");
}

TEST(Vty, NoDaemonAndACutAnswerAreNoAnswer) {
    SocketFolder folder;
    const VtyAnswer none = vty_command(folder.path(), "show version", 30);
    EXPECT_FALSE(none.answered);
    EXPECT_NE(none.error.find("No such file"), std::string::npos) << none.error;

    const VtyAnswer cut = ask_a_daemon_serving(folder, "show version", {std::string("half\n\0\0", 7)});  // closes before the status
    EXPECT_FALSE(cut.answered);
    EXPECT_NE(cut.error.find("closed"), std::string::npos) << cut.error;
}

TEST(Vty, ADaemonThatNeverAnswersTimesOut) {
    SocketFolder folder;
    const int listener = listen_at(folder.path());  // the kernel completes the connect; nobody reads
    ASSERT_GE(listener, 0);
    const VtyAnswer a = vty_command(folder.path(), "show version", 50);
    ::close(listener);
    EXPECT_FALSE(a.answered);
    EXPECT_NE(a.error.find("no answer within 50 ms"), std::string::npos) << a.error;
    EXPECT_GE(a.waited_ns, 50'000'000u);
}
