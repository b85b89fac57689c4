/**
 * mindzoo ascend310_infer: MINDIR on CPU with MindSpore's own runtime through its Python API (embedded CPython).
 *
 * Not MindSpore's C++ API: no registry package of a current MindSpore ships that (the PyPI wheel has no
 * include/api; the newest registry package that has it, mindspore-lite 2.0.0, cannot read MINDIR files of
 * MindSpore >= 2.x exports, see backend_mindspore.cc). This backend starts the Python interpreter the harness
 * was built against (CMake Python3_EXECUTABLE, the repo's .venv by default), imports mindzoo.deploy.mindir_runtime
 * (which sets ONEDNN_MAX_CPU_ISA before MindSpore loads) and runs mindspore.load + nn.GraphCell, the engine of
 * eval.py's export check. Decoding, preprocessing, timing and result files stay in the C++ harness; Predict's
 * time includes the host copies between C++ and Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "backend.h"

#ifndef MINDZOO_PYTHON_EXECUTABLE
#error "MINDZOO_PYTHON_EXECUTABLE (the interpreter whose site-packages has mindspore and mindzoo) must be defined"
#endif

namespace mindzoo {
namespace {

constexpr const char *kRunnerModule = "mindzoo.deploy.mindir_runtime";

// mindzoo's own errors (mindzoo.errors) carry a message fit for the user, printed without the type name.
bool IsMindzooError(PyObject *type) {
  PyObject *module = PyObject_GetAttrString(type, "__module__");
  if (module == nullptr) {
    PyErr_Clear();
    return false;
  }
  const char *name = PyUnicode_Check(module) ? PyUnicode_AsUTF8(module) : nullptr;
  const bool ours = name != nullptr && std::strncmp(name, "mindzoo", 7) == 0;
  Py_DECREF(module);
  PyErr_Clear();
  return ours;
}

// The pending Python exception as one line ("Type: first line of the message"), cleared.
std::string TakePythonError() {
  PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
  PyErr_Fetch(&type, &value, &traceback);
  PyErr_NormalizeException(&type, &value, &traceback);
  std::string text = "unknown Python error";
  if (value != nullptr) {
    PyObject *str = PyObject_Str(value);
    if (str != nullptr) {
      const char *utf8 = PyUnicode_AsUTF8(str);
      if (utf8 != nullptr) text = utf8;
      Py_DECREF(str);
    }
    PyErr_Clear();
  }
  const size_t newline = text.find('\n');
  if (newline != std::string::npos) text.resize(newline);
  if (type != nullptr && !IsMindzooError(type)) {
    text = std::string(reinterpret_cast<PyTypeObject *>(type)->tp_name) + ": " + text;
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(traceback);
  return text;
}

class MindSporePythonBackend : public Backend {
 public:
  ~MindSporePythonBackend() override {
    if (!Py_IsInitialized()) return;
    Py_XDECREF(predict_);
    Py_XDECREF(runner_);
    Py_FinalizeEx();
  }

  bool Load(const char *model_path, const char *device_type, int device_id, int threads) override {
    if (std::string(device_type) != "CPU") {
      error_ = std::string("the mindspore_python backend runs MINDIR on CPU only, got --device_type ") +
               device_type + " (Atlas hosts: build.sh mindspore, the MindSpore C++ API backend)";
      return false;
    }
    if (!StartPython()) return false;
    PyObject *module = PyImport_ImportModule(kRunnerModule);
    if (module == nullptr) {
      error_ = std::string("cannot import ") + kRunnerModule + " with " + MINDZOO_PYTHON_EXECUTABLE + ": " +
               TakePythonError() + " (install mindzoo and mindspore into that Python, or rebuild with PYTHON=...)";
      return false;
    }
    PyObject *runner_class = PyObject_GetAttrString(module, "MindirRunner");
    Py_DECREF(module);
    if (runner_class == nullptr) {
      error_ = TakePythonError();
      return false;
    }
    runner_ = PyObject_CallFunction(runner_class, "ssii", model_path, device_type, device_id, threads);
    Py_DECREF(runner_class);
    if (runner_ == nullptr) {
      error_ = TakePythonError();
      return false;
    }
    predict_ = PyObject_GetAttrString(runner_, "predict");
    if (predict_ == nullptr || !ReadInputShape() || !ReadDescription()) {
      if (error_.empty()) error_ = TakePythonError();
      return false;
    }
    const std::string version = Py_GetVersion();
    std::cout << description_ << "; Python " << version.substr(0, version.find(' ')) << " ("
              << MINDZOO_PYTHON_EXECUTABLE << ")" << std::endl;
    return true;
  }

  std::vector<int64_t> InputShape() const override { return input_shape_; }

  bool Predict(const float *input, const std::vector<int64_t> &shape, Output *output) override {
    size_t count = 1;
    for (int64_t d : shape) count *= static_cast<size_t>(d);
    PyObject *view = PyMemoryView_FromMemory(reinterpret_cast<char *>(const_cast<float *>(input)),
                                             static_cast<Py_ssize_t>(count * sizeof(float)), PyBUF_READ);
    PyObject *py_shape = PyTuple_New(static_cast<Py_ssize_t>(shape.size()));
    for (size_t i = 0; i < shape.size(); ++i) {
      PyTuple_SET_ITEM(py_shape, static_cast<Py_ssize_t>(i), PyLong_FromLongLong(shape[i]));
    }
    PyObject *result = (view && py_shape) ? PyObject_CallFunctionObjArgs(predict_, view, py_shape, nullptr) : nullptr;
    Py_XDECREF(view);
    Py_XDECREF(py_shape);
    if (result == nullptr) {
      error_ = TakePythonError();
      return false;
    }
    const bool ok = ReadOutput(result, output);
    Py_DECREF(result);
    return ok;
  }

  const char *LastError() const override { return error_.c_str(); }
  const char *Name() const override { return "mindspore_python"; }
  const char *Description() const override { return description_.c_str(); }

 private:
  // The interpreter of MINDZOO_PYTHON_EXECUTABLE: program_name set to it so that a venv's pyvenv.cfg is found
  // and its site-packages (mindspore, mindzoo) are on sys.path.
  bool StartPython() {
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;  // Ctrl-C stops the harness, not a Python frame
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, MINDZOO_PYTHON_EXECUTABLE);
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
      error_ = std::string("cannot start Python ") + MINDZOO_PYTHON_EXECUTABLE + ": " +
               (status.err_msg ? status.err_msg : "unknown error");
      return false;
    }
    return true;
  }

  bool ReadInputShape() {
    PyObject *shape = PyObject_GetAttrString(runner_, "input_shape");
    if (shape == nullptr) return false;
    PyObject *seq = PySequence_Fast(shape, "input_shape must be a sequence");
    Py_DECREF(shape);
    if (seq == nullptr) return false;
    input_shape_.clear();
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); ++i) {
      input_shape_.push_back(PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i)));
    }
    Py_DECREF(seq);
    return !PyErr_Occurred();
  }

  bool ReadDescription() {
    PyObject *text = PyObject_GetAttrString(runner_, "description");
    if (text == nullptr) return false;
    const char *utf8 = PyUnicode_AsUTF8(text);
    if (utf8 != nullptr) description_ = utf8;
    Py_DECREF(text);
    return utf8 != nullptr;
  }

  // predict() returns (bytes, [dims], dtype name).
  bool ReadOutput(PyObject *result, Output *output) {
    char *data = nullptr;
    Py_ssize_t size = 0;
    PyObject *shape = nullptr;
    const char *dtype = nullptr;
    if (!PyArg_ParseTuple(result, "y#Os", &data, &size, &shape, &dtype)) {
      error_ = "mindir_runtime.predict returned " + TakePythonError();
      return false;
    }
    static const char *kDtypes[] = {"float32", "float16", "float64"};
    output->dtype = nullptr;
    for (const char *known : kDtypes) {
      if (std::strcmp(known, dtype) == 0) output->dtype = known;  // static storage, as Output requires
    }
    if (output->dtype == nullptr) {
      error_ = std::string("unsupported output dtype ") + dtype;
      return false;
    }
    PyObject *seq = PySequence_Fast(shape, "output shape must be a sequence");
    if (seq == nullptr) {
      error_ = TakePythonError();
      return false;
    }
    output->shape.clear();
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); ++i) {
      output->shape.push_back(PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i)));
    }
    Py_DECREF(seq);
    const auto *bytes = reinterpret_cast<const uint8_t *>(data);
    output->bytes.assign(bytes, bytes + size);
    return true;
  }

  PyObject *runner_ = nullptr;
  PyObject *predict_ = nullptr;
  std::vector<int64_t> input_shape_;
  std::string description_ = "MindSpore runtime through its Python API, not the C++ API";
  std::string error_;
};

}  // namespace

Backend *CreateBackend() { return new MindSporePythonBackend(); }

}  // namespace mindzoo
