// The HTTP client's Python face, vipcheck._http: a module of its own, because libcurl and the
// 30 libraries it loads took 12 ms of every run's start, and only dns-pairs asks HTTP.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "http_client.h"

namespace py = pybind11;
using namespace vipcheck;

PYBIND11_MODULE(_http, m) {
    py::class_<HttpResponse>(m, "HttpResponse")
        .def_readonly("status", &HttpResponse::status)
        .def_readonly("body", &HttpResponse::body)
        .def_readonly("set_cookies", &HttpResponse::set_cookies)
        .def_readonly("error", &HttpResponse::error)
        .def_readonly("elapsed_ns", &HttpResponse::elapsed_ns);

    m.def("http_request", &http_request, py::arg("netns"), py::arg("method"), py::arg("url"), py::arg("body") = "",
          py::arg("cookie") = "", py::arg("timeout_ms") = 3000, py::call_guard<py::gil_scoped_release>(),
          "One HTTP request from the namespace, through libcurl.");
}
