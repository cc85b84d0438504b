// The main of every doctest executable. CTest runs each TEST_CASE on its own, by name
// (doctest_discover_tests: `-tc=<name>`); a run whose filters select no test case at all
// fails, so a test whose name the filter cannot match (doctest splits filters at commas) is
// reported instead of passing without running.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>

namespace {

struct RunState {
    bool ran = false;
    unsigned selected = 0;
};
RunState& run_state() {
    static RunState s;
    return s;
}

// Remembers how many test cases the filters selected.
struct SelectionListener : doctest::IReporter {
    explicit SelectionListener(const doctest::ContextOptions& /*options*/) {}
    void report_query(const doctest::QueryData& /*data*/) override {}
    void test_run_start() override { run_state().ran = true; }
    void test_run_end(const doctest::TestRunStats& s) override {
        run_state().selected = s.numTestCasesPassingFilters;
    }
    void test_case_start(const doctest::TestCaseData& /*data*/) override {}
    void test_case_reenter(const doctest::TestCaseData& /*data*/) override {}
    void test_case_end(const doctest::CurrentTestCaseStats& /*stats*/) override {}
    void test_case_exception(const doctest::TestCaseException& /*e*/) override {}
    void subcase_start(const doctest::SubcaseSignature& /*s*/) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData& /*data*/) override {}
    void log_message(const doctest::MessageData& /*data*/) override {}
    void test_case_skipped(const doctest::TestCaseData& /*data*/) override {}
};
REGISTER_LISTENER("selection", 1, SelectionListener);

bool selects_by_name(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "-tc=", 4) == 0 || std::strncmp(argv[i], "--test-case=", 12) == 0)
            return true;
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    const int result = context.run();
    if (context.shouldExit() || !run_state().ran) {
        return result;
    }
    if (result == 0 && selects_by_name(argc, argv) && run_state().selected == 0) {
        std::fprintf(stderr,
                     "doctest: the test-case filter selected no test case (a name with a comma "
                     "is split by the filter: rename it)\n");
        return 1;
    }
    return result;
}
