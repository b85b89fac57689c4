/**
 * mindzoo ascend310_infer: the inference backend interface.
 *
 * One backend is compiled in, chosen at configure time (cmake -DBACKEND=onnxruntime|mindspore|mindspore_python):
 *   src/backend_onnxruntime.cc        ONNX Runtime C++ API, CPU (.onnx; builds and runs anywhere)
 *   src/backend_mindspore.cc          MindSpore C++ inference API (include/api), MindIR on Ascend310/310P
 *   src/backend_mindspore_python.cc   MindSpore's runtime through its Python API (embedded CPython), MindIR on
 *                                     CPU: not the C++ API, which no registry package of MindSpore 2.x provides
 *
 * The interface passes no std::string, so a backend may be built with a different
 * _GLIBCXX_USE_CXX11_ABI than the rest of the harness.
 */
#ifndef MINDZOO_ASCEND310_INFER_INC_BACKEND_H_
#define MINDZOO_ASCEND310_INFER_INC_BACKEND_H_

#include <cstdint>
#include <vector>

namespace mindzoo {

/** The first model output, as raw host bytes. */
struct Output {
  std::vector<uint8_t> bytes;
  std::vector<int64_t> shape;
  const char *dtype = "float32";  // numpy name: float32 | float16 | float64
};

class Backend {
 public:
  virtual ~Backend() = default;
  /** device_type: CPU | Ascend310 | Ascend310P. threads: CPU threads, 0 = backend default. */
  virtual bool Load(const char *model_path, const char *device_type, int device_id, int threads) = 0;
  /** The first input's shape as the model declares it (-1 for a dynamic dimension). */
  virtual std::vector<int64_t> InputShape() const = 0;
  /** Runs one batch: input is a float32 NCHW tensor of the given shape. */
  virtual bool Predict(const float *input, const std::vector<int64_t> &shape, Output *output) = 0;
  virtual const char *LastError() const = 0;
  /** Short name: onnxruntime | mindspore | mindspore_python (meta.json "backend"). */
  virtual const char *Name() const = 0;
  /** What actually runs the model, for the log, meta.json and time_Result (valid after Load). */
  virtual const char *Description() const = 0;
};

/** Defined by the one backend source compiled in. */
Backend *CreateBackend();

}  // namespace mindzoo

#endif  // MINDZOO_ASCEND310_INFER_INC_BACKEND_H_
