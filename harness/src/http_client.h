// HTTP client for session checks, on libcurl: requests leave from a node's namespace.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vipcheck {

struct HttpResponse {
    long status = 0;           // 0 when no response arrived
    std::string body;
    std::vector<std::string> set_cookies;  // Set-Cookie values, "name=value" part only
    std::string error;         // curl's message when the request failed
    uint64_t elapsed_ns = 0;
};

// method GET or POST; cookie is sent as a Cookie header when not empty.
HttpResponse http_request(const std::string& netns, const std::string& method, const std::string& url,
                          const std::string& body, const std::string& cookie, uint32_t timeout_ms);

}  // namespace vipcheck
