# Crash-lab make fragment. Include from the top-level Makefile:
#   include tests/vm/lab.mk
# Targets: lab lab-la57 lab-all lab-check lab-paths lab-clean
# LAB_CACHE (default .cache/lab) is where kernels and vmcores are cached.
LAB_DIR   := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
LAB_CACHE ?= .cache/lab

.PHONY: lab lab-la57 lab-all lab-check lab-paths lab-clean
lab:
	$(LAB_DIR)/run-lab.sh $(LAB_CACHE)
lab-la57:
	$(LAB_DIR)/run-lab.sh $(LAB_CACHE) --la57
lab-all: lab lab-la57
lab-check: lab-all
	$(LAB_DIR)/check-vmcore.sh $(LAB_CACHE)
	$(LAB_DIR)/check-vmcore.sh $(LAB_CACHE) --la57
lab-paths:
	@$(LAB_DIR)/lab-paths.sh $(LAB_CACHE)
# removes generated vmcores only; the downloaded kernel stays cached
lab-clean:
	rm -f $(LAB_CACHE)/*/vmcore $(LAB_CACHE)/*/vmcore-la57 $(LAB_CACHE)/*/vmcore*.info \
	      $(LAB_CACHE)/*/vmcore*.serial.log $(LAB_CACHE)/*/vmcore*.crash.txt
