// Event (WSACreateEvent & co.) and wait_for_multiple_events (WSAWaitForMultipleEvents).
#include <pybind11/stl.h>

#include <vector>

#include "ustack_py.hpp"

namespace ustack_py {

EventCore::EventCore() : handle(WSACreateEvent()) {
    if (handle == WSA_INVALID_EVENT) {
        throw std::bad_alloc();
    }
}

EventCore::~EventCore() {
    if (handle != WSA_INVALID_EVENT) {
        WSACloseEvent(handle);
    }
}

WSAEVENT Event::get() const {
    if (!core) {
        throw py::value_error("the event is closed");
    }
    return core->handle;
}

void bind_events(py::module_& m) {
    py::class_<Event>(m, "Event",
                      "A manual-reset event object (WSACreateEvent). close() lets go of it; the "
                      "handle itself is closed (WSACloseEvent) once no socket's event_select "
                      "holds it either.")
        .def(py::init([] { return Event{std::make_shared<EventCore>()}; }))
        .def("set", [](const Event& e) { return WSASetEvent(e.get()) != 0; })
        .def("reset", [](const Event& e) { return WSAResetEvent(e.get()) != 0; })
        .def(
            "wait",
            [](const Event& e, std::optional<DWORD> timeout_ms) {
                WSAEVENT h = e.get();
                DWORD r = 0;
                {
                    py::gil_scoped_release nogil;
                    r = WSAWaitForMultipleEvents(1, &h, 0, timeout_ms.value_or(WSA_INFINITE), 0);
                }
                if (r == WSA_WAIT_FAILED) {
                    throw_wsa(WSAEINVAL);
                }
                return r == WSA_WAIT_EVENT_0;
            },
            py::arg("timeout_ms") = py::none(),
            "Wait until the event is set (True) or timeout_ms pass (False; None: forever).")
        .def_property_readonly("closed", [](const Event& e) { return !e.core; })
        .def("close", [](Event& e) { e.core.reset(); })
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](Event& e, const py::args&) {
            e.core.reset();
            return false;
        });

    m.def(
        "wait_for_multiple_events",
        [](const std::vector<const Event*>& events, bool wait_all,
           std::optional<DWORD> timeout_ms) -> std::optional<DWORD> {
            if (events.empty() || events.size() > WSA_MAXIMUM_WAIT_EVENTS) {
                throw py::value_error("wait_for_multiple_events takes 1 to 64 events");
            }
            // The cores stay alive during the wait even if another thread closes an Event.
            std::vector<std::shared_ptr<EventCore>> keep;
            std::vector<WSAEVENT> hs;
            for (const Event* e : events) {
                if (e == nullptr) {
                    throw py::type_error("wait_for_multiple_events takes Event objects");
                }
                hs.push_back(e->get());
                keep.push_back(e->core);
            }
            DWORD r = 0;
            {
                py::gil_scoped_release nogil;
                r = WSAWaitForMultipleEvents(static_cast<DWORD>(hs.size()), hs.data(),
                                             wait_all ? 1 : 0, timeout_ms.value_or(WSA_INFINITE),
                                             0);
            }
            if (r == WSA_WAIT_FAILED) {
                throw_wsa(WSAEINVAL);
            }
            if (r == WSA_WAIT_TIMEOUT) {
                return std::nullopt;
            }
            return r - WSA_WAIT_EVENT_0;
        },
        py::arg("events"), py::arg("wait_all") = false, py::arg("timeout_ms") = py::none(),
        "WSAWaitForMultipleEvents: the index of the event that is set (with wait_all: 0 once "
        "all are), or None when timeout_ms (None: forever) passed.");
}

}  // namespace ustack_py
