# actnn-darknet build.
#   make                 CPU build: ./darknet, libdarknet.a, libdarknet.so (public API only),
#                        libactnn.a (OpenBLAS + OpenMP)
#   make DEBUG=1         -O0 -g
#   make SANITIZE=1      ASan + UBSan (objects in their own folder)
#   make GPU=1 CUDNN=1   CUDA (sm_90 + PTX) and cuDNN (docs/gpu.md)
#   make gpu-tests GPU=1 CUDNN=1   the GPU test program, run on a device by scripts/gpu_check.sh
#   make MPI=1           data-parallel training over MPI (src/dist, docs/mpi.md; OpenMPI)
#   make OPENCV=1        OpenCV (scripts/setup.sh --opencv): every image format it reads (stb
#                        as fallback), video input/output, `detector demo`
#   make test            build and run every test (cmocka programs and shell tests)
#   make demo            the main job: shapes data, yolov3-tiny fp32 vs 2-bit memory lines
#   make figures         rerun every README/docs figure (scripts/figures.sh; hours)
# Variants build into separate object folders so switching flags never mixes objects.

DEBUG    ?= 0
SANITIZE ?= 0
GPU      ?= 0
CUDNN    ?= 0
OPENCV   ?= 0
MPI      ?= 0
NCCL     ?= 0
NATIVE   ?= 0
CUDA_PATH ?= /usr/local/cuda
ARCH     ?= -gencode arch=compute_90,code=[sm_90,compute_90]

CC       ?= gcc
# BLAS: which of Debian's OpenBLAS builds to link (docs/speed.md): openmp (default: dn_gemm
# splits each gemm over OpenMP's threads, so one thread pool and one fork/join per gemm) or
# pthread (OpenBLAS's own pool beside OpenMP's). Linked by path with a run path, so the
# system's libopenblas.so.0 alternative does not decide; without that folder
# (scripts/setup.sh installs it), pkg-config's.
BLAS     ?= openmp
BLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-$(BLAS)
ifneq ($(wildcard $(BLAS_DIR)/libopenblas.so),)
  BLAS_CFLAGS := -I/usr/include/x86_64-linux-gnu/openblas-$(BLAS)
  BLAS_LIBS   := -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas
else
  BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
  BLAS_LIBS   := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
endif
NVCC     ?= $(CUDA_PATH)/bin/nvcc
VARIANT  := cpu
CFLAGS   := -std=c11 -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 -Wall -Wextra -Werror -fPIC -fopenmp \
            -Iinclude -Isrc -Iactnn_plugin/include $(BLAS_CFLAGS)
LDLIBS   := $(BLAS_LIBS) -lstb -lm -lpthread -fopenmp

ifeq ($(DEBUG),1)
  CFLAGS  += -O0 -g
  VARIANT := $(VARIANT)-dbg
else
  CFLAGS  += -O3 -g
  ifeq ($(NATIVE),1)
    CFLAGS += -march=native
    VARIANT := $(VARIANT)-native
  endif
endif
# Runtime CPU dispatch: everything is built for plain x86-64, so ./darknet runs on any
# x86-64 CPU; only *_avx2.c files get AVX2/FMA/F16C and are entered after a cpuid check
# (actnn_plugin/src/internal.h). OpenBLAS picks its own kernels at run time.
# tests/sh/cpu_dispatch.sh checks that no other object holds an AVX instruction.
# -ffp-contract=off (C11's default, stated): a*b+c is never fused, so the AVX2 and the
# portable paths round alike and store the same bytes.
CFLAGS   += -ffp-contract=off
AVX2_FLAGS := -mavx2 -mfma -mf16c
ifeq ($(SANITIZE),1)
  CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDLIBS  += -fsanitize=address,undefined
  VARIANT := $(VARIANT)-san
endif
# CUDA_EXTRA_INC / CUDA_EXTRA_LIB: more header and library folders, for toolkits split
# over several folders (pip wheels under site-packages; scripts/gpu_check.sh sets them).
CUDA_EXTRA_INC ?=
CUDA_EXTRA_LIB ?=
ifeq ($(GPU),1)
  CFLAGS  += -DGPU -I$(CUDA_PATH)/include $(addprefix -I,$(CUDA_EXTRA_INC))
  # -lstdc++: nvcc's host objects are C++ (exception personality, static guards).
  # No -lcurand: nothing draws random numbers on the GPU through cuRAND.
  LDLIBS  += -L$(CUDA_PATH)/lib64 -Wl,-rpath,$(CUDA_PATH)/lib64 \
             $(foreach d,$(CUDA_EXTRA_LIB),-L$(d) -Wl,-rpath,$(d)) -lcudart -lcublas -lstdc++
  VARIANT := $(VARIANT)-gpu
  # -Werror all-warnings: nvcc's own warnings fail the build too, like -Werror for gcc.
  # -ffp-contract=off: host code in .cu files never fuses a*b+c, like the C code (C11).
  NVFLAGS := $(ARCH) -O3 -std=c++17 --fmad=false -Werror all-warnings \
             -Xcompiler "-Wall -Wextra -Werror -fPIC -ffp-contract=off" \
             -Iinclude -Isrc -Iactnn_plugin/include -DGPU $(addprefix -I,$(CUDA_EXTRA_INC))
  ifeq ($(CUDNN),1)
    CFLAGS  += -DCUDNN
    NVFLAGS += -DCUDNN
    LDLIBS  += -lcudnn
    VARIANT := $(VARIANT)-cudnn
  endif
endif
# OpenCV: one C++ file behind a C header (src/data/opencv_io.h); Debian's headers live in
# /usr/include/opencv4 (the split -dev packages ship no opencv4.pc, so the libraries are named).
OPENCV_INC ?= /usr/include/opencv4
CXX      ?= g++
CV_SRC   :=
ifeq ($(OPENCV),1)
  ifeq ($(wildcard $(OPENCV_INC)/opencv2/videoio.hpp),)
    $(error OPENCV=1: no OpenCV headers in $(OPENCV_INC); run scripts/setup.sh --opencv)
  endif
  CFLAGS  += -DOPENCV
  CXXFLAGS_CV := -std=c++17 -O2 -g -Wall -Wextra -Werror -fPIC -Iinclude -Isrc -I$(OPENCV_INC) -DOPENCV
  ifeq ($(SANITIZE),1)
    CXXFLAGS_CV += -fsanitize=address,undefined -fno-omit-frame-pointer
  endif
  LDLIBS  += -lopencv_videoio -lopencv_imgcodecs -lopencv_imgproc -lopencv_core -lstdc++
  CV_SRC  := src/data/opencv_io.cpp
  VARIANT := $(VARIANT)-cv
endif
# MPI=1: src/dist (gradient all-reduce, sync_bn) against Debian's OpenMPI. -isystem keeps
# warnings inside mpi.h from failing -Werror; our own code stays fully checked.
ifeq ($(MPI),1)
  MPI_INC := $(patsubst -I%,-isystem %,$(shell mpicc --showme:compile 2>/dev/null || echo -I/usr/lib/x86_64-linux-gnu/openmpi/include))
  CFLAGS  += -DDN_MPI $(MPI_INC)
  LDLIBS  += $(shell mpicc --showme:link 2>/dev/null || echo -lmpi)
  VARIANT := $(VARIANT)-mpi
endif
# NCCL=1 (with MPI=1 GPU=1): ranks on GPUs sum their gradients with NCCL (src/dist/nccl.c).
ifeq ($(NCCL),1)
  ifneq ($(MPI)$(GPU),11)
    $(error NCCL=1 needs MPI=1 and GPU=1)
  endif
  CFLAGS  += -DDN_NCCL -isystem $(CUDA_PATH)/include
  LDLIBS  += -lnccl
  VARIANT := $(VARIANT)-nccl
endif
ifneq ($(BLAS),openmp)
  VARIANT := $(VARIANT)-blas$(BLAS)
endif

# Every variant builds into its own folder, so switching flags never mixes objects and two
# variants can be built side by side. The top-level ./darknet, libdarknet.a and libactnn.a
# are copies of the variant last built with `make` (what a Darknet user expects after
# `make GPU=1 CUDNN=1`). Tests and tools of the default variant live in build/tests and
# build/bin; those of other variants in build/<variant>/tests and build/<variant>/bin.
OBJ := build/$(VARIANT)
ifeq ($(VARIANT),cpu)
  TDIR := build
else
  TDIR := $(OBJ)
endif
LIBD := $(OBJ)/libdarknet.a
LIBSO := $(OBJ)/libdarknet.so
$(OBJ)/%_avx2.o: CFLAGS += $(AVX2_FLAGS)
LIBA := $(OBJ)/libactnn.a
VBIN := $(OBJ)/darknet

PLUGIN_SRC := $(wildcard actnn_plugin/src/*.c)
# Subsystems (DESIGN.md "Layout"); backend/cuda is compiled only with GPU=1, dist only with MPI=1.
SUBSYS     := core memory data detect layers backend backend/cpu api
ifeq ($(MPI),1)
  SUBSYS   += dist
endif
CORE_SRC   := $(foreach d,$(SUBSYS),$(wildcard src/$(d)/*.c))
CLI_SRC    := $(wildcard src/cli/*.c)
TOOL_SRC   := $(wildcard scripts/*.c)
TEST_SRC   := $(wildcard tests/test_*.c)
TEST_LIB   := $(wildcard tests/common/*.c)
CU_SRC     :=
ifeq ($(GPU),1)
  CORE_SRC += $(wildcard src/backend/cuda/*.c)
  CU_SRC   := $(wildcard src/backend/cuda/*.cu) $(wildcard actnn_plugin/src/*.cu)
endif

# Filter the .cu sources before prefixing $(OBJ)/, so the folder patterns match.
PLUGIN_OBJ := $(PLUGIN_SRC:%.c=$(OBJ)/%.o) $(patsubst %.cu,$(OBJ)/%.cu.o,$(filter actnn_plugin/%,$(CU_SRC)))
CORE_OBJ   := $(CORE_SRC:%.c=$(OBJ)/%.o) $(patsubst %.cu,$(OBJ)/%.cu.o,$(filter src/%,$(CU_SRC))) \
              $(CV_SRC:%.cpp=$(OBJ)/%.cpp.o)
CLI_OBJ    := $(CLI_SRC:%.c=$(OBJ)/%.o)
TEST_LIBO  := $(TEST_LIB:%.c=$(OBJ)/%.o)
TESTS      := $(TEST_SRC:tests/%.c=$(TDIR)/tests/%)
TOOLS      := $(TOOL_SRC:scripts/%.c=$(TDIR)/bin/%)
STAMP      := build/.variant-$(VARIANT)

.PHONY: all clean test tests tools demo fuzz

all: darknet libdarknet.a libdarknet.so libdarknet_alexey.so libactnn.a tools

# Recopy the top-level outputs when the variant changes.
$(STAMP):
	@mkdir -p build && rm -f build/.variant-* && touch $@

$(LIBA): $(PLUGIN_OBJ)
	@rm -f $@ && ar rcs $@ $(PLUGIN_OBJ)

$(LIBD): $(CORE_OBJ) $(PLUGIN_OBJ)
	@rm -f $@ && ar rcs $@ $(CORE_OBJ) $(PLUGIN_OBJ)

$(VBIN): $(CLI_OBJ) $(LIBD)
	@echo "  LD    $@"
	@$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(LIBD) $(LDLIBS)

# The shared library pjreddie's python/darknet.py loads: the public API of include/darknet.h
# only (the version script hides every other symbol; tests/sh/api_so.sh checks nm -D).
$(LIBSO): $(CORE_OBJ) $(PLUGIN_OBJ) src/api/libdarknet.map
	@echo "  SO    $@"
	@$(CC) $(CFLAGS) -shared -Wl,-soname,libdarknet.so -Wl,--version-script=src/api/libdarknet.map \
	  -o $@ $(CORE_OBJ) $(PLUGIN_OBJ) $(LDLIBS)

# AlexeyAB's darknet.py reads his larger detection struct and binds his API additions: the
# same framework objects with the façade (src/api/api_*.c) compiled for his header
# (-DDARKNET_ALEXEY_API; api_alexey.c in place of api_detect.c). Copy it beside his
# darknet.py as libdarknet.so. tests/sh/api_alexey.sh runs his calls over it.
API_SRC    := $(wildcard src/api/api_*.c)
API_AB_OBJ := $(API_SRC:%.c=$(OBJ)/alexey/%.o)
LIBSO_AB   := $(OBJ)/alexey/libdarknet.so
$(OBJ)/alexey/%.o: CFLAGS += -DDARKNET_ALEXEY_API
$(OBJ)/alexey/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $< (AlexeyAB's API)"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(LIBSO_AB): $(filter-out $(API_SRC:%.c=$(OBJ)/%.o),$(CORE_OBJ)) $(API_AB_OBJ) $(PLUGIN_OBJ) \
             src/api/libdarknet.map src/api/libdarknet_alexey.map
	@echo "  SO    $@"
	@$(CC) $(CFLAGS) -shared -Wl,-soname,libdarknet.so -Wl,--version-script=src/api/libdarknet_alexey.map \
	  -o $@ $(filter-out $(API_SRC:%.c=$(OBJ)/%.o),$(CORE_OBJ)) $(API_AB_OBJ) $(PLUGIN_OBJ) $(LDLIBS)

darknet: $(VBIN) $(STAMP)
	@cp -f $(VBIN) $@
libdarknet.a: $(LIBD) $(STAMP)
	@cp -f $(LIBD) $@
libdarknet.so: $(LIBSO) $(STAMP)
	@cp -f $(LIBSO) $@
libdarknet_alexey.so: $(LIBSO_AB) $(STAMP)
	@cp -f $(LIBSO_AB) $@
libactnn.a: $(LIBA) $(STAMP)
	@cp -f $(LIBA) $@

tools: $(TOOLS)
$(TDIR)/bin/%: scripts/%.c scripts/bench_util.h $(LIBD)
	@mkdir -p $(dir $@)
	@echo "  TOOL  $@"
	@$(CC) $(CFLAGS) -o $@ $< $(LIBD) $(LDLIBS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(OBJ)/%.cpp.o: %.cpp
	@mkdir -p $(dir $@)
	@echo "  CXX   $<"
	@$(CXX) $(CXXFLAGS_CV) -MMD -MP -c $< -o $@

$(OBJ)/%.cu.o: %.cu
	@mkdir -p $(dir $@)
	@echo "  NVCC  $<"
	@$(NVCC) $(NVFLAGS) -MMD -MP -c $< -o $@

# Tests: each tests/test_*.c is one cmocka program; tests/*.sh are shell tests.
# The oracle tools under tests/oracle link Debian's libdarknet (never our objects).
tests: $(TEST_LIBO) $(TESTS) oracle api-tests
$(TDIR)/tests/%: tests/%.c $(TEST_LIBO) $(LIBD)
	@mkdir -p $(dir $@)
	@echo "  TEST  $@"
	@$(CC) $(CFLAGS) -MMD -MP -MF $@.d -Itests -o $@ $< $(TEST_LIBO) $(LIBD) $(LDLIBS) -lcmocka

# Programs written against the public header only (no -Isrc), linked with libdarknet.so:
# tests/api/*.c and pjreddie-API oracle programs rebuilt against ours (tests/sh/api_so.sh).
API_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude \
              $(filter -fsanitize=% -fno-sanitize-recover=% -fno-omit-frame-pointer,$(CFLAGS))
API_TESTS  := $(patsubst tests/api/%.c,$(TDIR)/tests/api/%,$(wildcard tests/api/*.c)) \
              $(TDIR)/tests/api/dn_boxes_ours
.PHONY: api-tests
api-tests: $(API_TESTS) $(LIBSO_AB)
$(TDIR)/tests/api/%: tests/api/%.c include/darknet.h $(LIBSO)
	@mkdir -p $(dir $@)
	@echo "  API   $@"
	@$(CC) $(API_CFLAGS) -o $@ $< $(LIBSO) -Wl,-rpath,$(abspath $(OBJ)) -lm
$(TDIR)/tests/api/dn_boxes_ours: tests/oracle/dn_boxes.c include/darknet.h $(LIBSO)
	@mkdir -p $(dir $@)
	@echo "  API   $@"
	@$(CC) $(API_CFLAGS) -o $@ $< $(LIBSO) -Wl,-rpath,$(abspath $(OBJ)) -lm

ORACLE_SRC := $(wildcard tests/oracle/*.c)
ORACLE_BIN := $(ORACLE_SRC:tests/oracle/%.c=build/oracle/%)
.PHONY: oracle
oracle: $(ORACLE_BIN)
build/oracle/%: tests/oracle/%.c
	@mkdir -p $(dir $@)
	@if [ -f /usr/lib/darknet/libdarknet.so ]; then \
	  $(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-unused-parameter -I/usr/lib/darknet/include -o $@ $< \
	    -L/usr/lib/darknet -ldarknet -Wl,-rpath,/usr/lib/darknet -lm -lpthread; \
	else echo "oracle: /usr/lib/darknet missing (run scripts/setup.sh)"; exit 1; fi

# Shell tests find the variant's binaries through DARKNET and DN_TOOLS.
test: all tests
	@DARKNET=$(abspath $(VBIN)) DN_TOOLS=$(abspath $(TDIR)/bin) DN_VARIANT=$(VARIANT) \
	  DN_API_TESTS=$(abspath $(TDIR)/tests/api) DN_LIBSO=$(abspath $(LIBSO)) \
	  DN_LIBSO_AB=$(abspath $(LIBSO_AB)) tests/run_all.sh $(TESTS)

# GPU test program (tests/gpu/test_gpu.c): each kernel against the CPU path, actnn bytes
# identical to the CPU's, and the quantizer benchmark. Built only in GPU variants; run on
# a device by scripts/gpu_check.sh.
.PHONY: gpu-tests
ifeq ($(GPU),1)
gpu-tests: $(OBJ)/tests/gpu/test_gpu $(OBJ)/tests/gpu/mirror_host
# The GPU per-value code (activations, batch norm) compiled for the host and checked
# against activations.c and bn_ops.c; runs without a GPU.
MIRROR_OBJ := $(OBJ)/src/backend/cpu/activations.o $(OBJ)/src/backend/cpu/bn_ops.o
$(OBJ)/tests/gpu/mirror_host: tests/gpu/mirror_host.cu src/backend/cuda/activations.cu src/backend/math/bn_math.h $(MIRROR_OBJ)
	@mkdir -p $(dir $@)
	@echo "  NVCC  $@"
	@$(NVCC) $(NVFLAGS) -c $< -o $@.o
	@$(CC) $(CFLAGS) -o $@ $@.o $(MIRROR_OBJ) $(LDLIBS)
GPU_TEST_SRC := $(wildcard tests/gpu/*.c)
$(OBJ)/tests/gpu/test_gpu: $(GPU_TEST_SRC) $(wildcard tests/gpu/*.h) $(LIBD)
	@mkdir -p $(dir $@)
	@echo "  TEST  $@"
	@$(CC) $(CFLAGS) -Itests -o $@ $(GPU_TEST_SRC) $(LIBD) $(LDLIBS)
else
gpu-tests:
	@echo "gpu-tests: build with make gpu-tests GPU=1 CUDNN=1"; exit 1
endif

demo: all
	@scripts/demo.sh

.PHONY: figures
figures: all
	@scripts/figures.sh

fuzz:
	@$(MAKE) -f tests/fuzz/Makefile.fuzz

clean:
	rm -rf build
	rm -f darknet libdarknet.a libdarknet.so libactnn.a

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
# A test program is compiled and linked in one step: its .d (beside it) names the headers
# it includes, so a change to a header only tests include (qmirror.h) rebuilds it too.
-include $(wildcard $(TDIR)/tests/*.d)
