/**
 * mindzoo ascend310_infer: the exit statuses and one-line errors of the harness's tools (main, predict_tensor,
 * convert_lite), as the project's scripts read them: 0 ok, 1 a failure, 2 bad usage or a missing prerequisite.
 *
 * Header-only: each tool compiles it with its own _GLIBCXX_USE_CXX11_ABI.
 */
#ifndef MINDZOO_ASCEND310_INFER_INC_EXIT_STATUS_H_
#define MINDZOO_ASCEND310_INFER_INC_EXIT_STATUS_H_

#include <iostream>
#include <string>

namespace mindzoo {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

/** Prints "<prefix>error: <message>" on stderr and returns ``code`` (for ``return Fail(...)`` in main). */
inline int Fail(int code, const std::string &message, const std::string &prefix = "") {
  std::cerr << prefix << "error: " << message << std::endl;
  return code;
}

}  // namespace mindzoo

#endif  // MINDZOO_ASCEND310_INFER_INC_EXIT_STATUS_H_
