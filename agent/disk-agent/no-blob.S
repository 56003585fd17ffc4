/* SPDX-License-Identifier: GPL-2.0-or-later */
/* No embedded disk agent: the disk agent itself and the unit tests. */
	.section .rodata.salvage_disk_agent,"a"
	.global salvage_disk_agent_start
	.global salvage_disk_agent_end
salvage_disk_agent_start:
salvage_disk_agent_end:
	.section .note.GNU-stack,"",@progbits
