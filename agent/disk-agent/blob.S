/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The disk-only capture agent, zstd-compressed, inside salvage
 * (agent/disk-agent.h). DISK_AGENT_ZST is its path, set by the Makefile. */
	.section .rodata.salvage_disk_agent,"a"
	.global salvage_disk_agent_start
	.global salvage_disk_agent_end
salvage_disk_agent_start:
	.incbin DISK_AGENT_ZST
salvage_disk_agent_end:
	.section .note.GNU-stack,"",@progbits
