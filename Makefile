# Porcelain only: meson + ninja do the work. `make demo` runs the main job,
# `make test` runs every suite (see README.md).
BUILD ?= build

.PHONY: all deps build test demo asan fuzz bench format format-check clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

test: build
	./scripts/run-tests.sh $(BUILD)

demo: build
	./scripts/demo.sh $(BUILD)

asan: deps
	[ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C build-asan
	./scripts/run-tests.sh build-asan

fuzz: deps
	[ -f build-fuzz/build.ninja ] || CC=clang-14 meson setup build-fuzz -Dfuzz=true -Db_lundef=false -Db_sanitize=address,undefined -Dc_args=-fsanitize=fuzzer-no-link
	ninja -C build-fuzz
	./scripts/run-fuzz.sh build-fuzz $${FUZZ_SECONDS:-10}

bench: build
	./scripts/run-bench.sh $(BUILD)

format:
	git ls-files '*.c' '*.h' | xargs clang-format-14 -i

format-check:
	git ls-files '*.c' '*.h' | xargs clang-format-14 --dry-run --Werror

clean:
	rm -rf $(BUILD) build-asan build-fuzz
