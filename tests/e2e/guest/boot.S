/* Multiboot (v1) header and entry point of the vmgui e2e test guest. */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003   /* page-align modules, give memory info */
    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .bss
    .align 16
stack_bottom:
    .skip 16384
stack_top:

    .section .text
    .globl _start
_start:
    mov $stack_top, %esp
    push %ebx           /* multiboot info */
    push %eax           /* multiboot magic */
    call kmain
1:  cli
    hlt
    jmp 1b
