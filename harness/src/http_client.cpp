#include "http_client.h"

#include <curl/curl.h>

#include <cstring>
#include <memory>
#include <mutex>

#include "clock.h"
#include "netns.h"

namespace vipcheck {
namespace {

size_t append_body(char* data, size_t size, size_t count, void* out) {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
}

size_t read_header(char* data, size_t size, size_t count, void* out) {
    std::string line(data, size * count);
    const std::string prefix = "set-cookie:";
    if (line.size() > prefix.size() && strncasecmp(line.c_str(), prefix.c_str(), prefix.size()) == 0) {
        std::string value = line.substr(prefix.size());
        value.erase(0, value.find_first_not_of(' '));
        value = value.substr(0, value.find_first_of(";\r\n"));
        static_cast<std::vector<std::string>*>(out)->push_back(value);
    }
    return size * count;
}

struct CurlDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

}  // namespace

HttpResponse http_request(const std::string& netns, const std::string& method, const std::string& url,
                          const std::string& body, const std::string& cookie, uint32_t timeout_ms) {
    static std::once_flag init;
    std::call_once(init, []() { curl_global_init(CURL_GLOBAL_DEFAULT); });
    return run_in_netns(netns, [&]() {
        HttpResponse response;
        std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
        char error[CURL_ERROR_SIZE] = {};
        curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
        curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
        curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl.get(), CURLOPT_NOPROXY, "*");  // never leave through a proxy
        curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, long(timeout_ms));
        curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append_body);
        curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response.body);
        curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, read_header);
        curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &response.set_cookies);
        if (!cookie.empty()) curl_easy_setopt(curl.get(), CURLOPT_COOKIE, cookie.c_str());
        if (method == "POST") {
            curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.c_str());
        } else if (method != "GET") {
            curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
        }
        const uint64_t start = monotonic_ns();
        CURLcode rc = curl_easy_perform(curl.get());
        response.elapsed_ns = monotonic_ns() - start;
        if (rc != CURLE_OK) {
            response.error = error[0] ? error : curl_easy_strerror(rc);
        } else {
            curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
        }
        return response;
    });
}

}  // namespace vipcheck
