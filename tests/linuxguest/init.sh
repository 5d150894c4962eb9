#!/bin/busybox sh
# /init of the vmgui test guest: a busybox userland on Debian's kernel.
# Workloads are chosen on the kernel command line (vmgui.work=ram,disk) and report on the
# serial console in lines starting with "VMGUI " so that tests can parse them.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs -o size=90% tmp /tmp
for m in $(cat /etc/modules); do insmod "/lib/modules/$m.ko" 2>/dev/null; done

say() { echo "VMGUI $*"; }
arg() { # arg NAME DEFAULT: the value of vmgui.NAME= on the kernel command line
    for word in $(cat /proc/cmdline); do
        case "$word" in "vmgui.$1="*) echo "${word#*=}"; return;; esac
    done
    echo "$2"
}

BOOT=$(cat /proc/sys/kernel/random/boot_id)
WORK=$(arg work "")
RAM_MIB=$(arg ram 24)
DISK=$(arg disk /dev/vda)
hostname vmguest

# The ACPI power button (QMP system_powerdown) powers the guest off, as a distribution does.
mkdir -p /etc/acpi/PWRF
printf '#!/bin/sh\necho "VMGUI POWEROFF" > /dev/console\nsync\npoweroff -f\n' > /etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
# acpid opens the input devices present when it starts: wait until devtmpfs made a node for
# every input device the kernel registered (the power button among them)
i=0
while [ $i -lt 100 ]; do
    missing=0
    for ev in $(sed -n 's/.*Handlers=.*\(event[0-9]*\).*/\1/p' /proc/bus/input/devices); do
        [ -e "/dev/input/$ev" ] || missing=1
    done
    grep -q "Power Button" /proc/bus/input/devices && [ $missing = 0 ] && break
    sleep 0.05; i=$((i + 1))
done
if [ "$(arg acpi on)" != ignore ]; then  # vmgui.acpi=ignore: a guest that never hears the power button
acpid -f -c /etc/acpi -l /tmp/acpid.log &
# a power button pressed before acpid has opened the input devices would go unheard
i=0
while [ $i -lt 100 ] && ! ls -l /proc/$!/fd 2>/dev/null | grep -q /dev/input/event; do
    sleep 0.05; i=$((i + 1))
done
fi

ram_work() { # copy a random buffer back and forth in RAM, checking its md5 after each copy
    dd if=/dev/urandom of=/tmp/ram.0 bs=1M count="$RAM_MIB" 2>/dev/null
    want=$(md5sum < /tmp/ram.0)
    n=0; src=0; dst=1
    while :; do
        n=$((n + 1))
        cp /tmp/ram.$src /tmp/ram.$dst
        rm /tmp/ram.$src
        if [ "$(md5sum < /tmp/ram.$dst)" = "$want" ]; then say "RAM ok $n"; else say "RAM BAD $n"; fi
        src=$dst; dst=$((1 - dst))
    done
}

disk_work() { # numbered 512-byte records, each with its md5, synced to the disk one by one
    n=0
    [ -b "$DISK" ] || { say "DISK missing $DISK"; return; }
    while :; do
        body=$(printf 'VMGUIREC %08d %s' "$n" "$BOOT")
        sum=$(printf '%s' "$body" | md5sum | cut -c1-32)
        printf '%-511s\n' "$body $sum" | dd of="$DISK" bs=512 seek="$n" count=1 conv=notrunc,fsync 2>/dev/null \
            && say "DISK $n" || say "DISK failed $n"
        n=$((n + 1))
    done
}

tty1_shell() { # a shell on the VGA console for tests that type into the display (cursor hidden: no blinking)
    printf '\033[?25l' > /dev/tty1
    while :; do setsid sh -c 'exec sh -i <>/dev/tty1 >&0 2>&0'; done
}

firmware_report() { # "EFI yes secureboot 1" under UEFI (Secure Boot state from efivars), "EFI no" under a BIOS
    if [ -d /sys/firmware/efi ]; then
        mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
        # 4 bytes of attributes, then the value (efivarfs files cannot seek: read them whole)
        set -- $(od -An -tu1 /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c 2>/dev/null)
        echo "EFI yes secureboot ${5:-none}"
    else
        echo "EFI no"
    fi
}

agent_work() { # the QEMU guest agent, with an address to report and a file system to freeze
    ip link set lo up
    ip link set eth0 up 2>/dev/null && ip addr add "$(arg ip 10.0.2.15/24)" dev eth0
    printf 'ID=vmgui\nNAME="VMGUI test guest"\nPRETTY_NAME="VMGUI test guest 1.0"\nVERSION_ID=1.0\n' > /etc/os-release
    fs=$(arg fs "")
    if [ -n "$fs" ] && [ -b "$fs" ]; then
        mkdir -p /mnt/data
        mke2fs -q "$fs" >/dev/null 2>&1; mount "$fs" /mnt/data && echo "mounted" > /mnt/data/hello
    fi
    # what qemu-ga runs: its freeze hook, and shutdown(8) for guest-shutdown (-r: reboot)
    printf '#!/bin/sh\necho "VMGUI AGENT FSFREEZE $1" > /dev/console\n' > /etc/fsfreeze-hook
    mkdir -p /sbin
    printf '#!/bin/sh\necho "VMGUI AGENT SHUTDOWN $*" > /dev/console\ncase " $* " in *" -r "*) act=reboot;; *) act=poweroff;; esac\n(sleep 0.5; sync; $act -f) &\n' > /sbin/shutdown
    chmod +x /etc/fsfreeze-hook /sbin/shutdown
    port=""
    i=0
    while [ -z "$port" ] && [ $i -lt 200 ]; do
        for p in /sys/class/virtio-ports/*; do
            [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] && [ -e "/dev/${p##*/}" ] && port="/dev/${p##*/}"
        done
        [ -n "$port" ] || sleep 0.05; i=$((i + 1))
    done
    [ -n "$port" ] || { say "AGENT no port"; return; }
    if [ "$(arg agent run)" = deaf ]; then  # vmgui.agent=deaf: the port is open, nobody answers
        (exec 3< "$port"; while :; do sleep 3600; done) &  # reading would end at the host's EOF
        say "AGENT deaf $port"
        return
    fi
    mkdir -p /var/run
    qemu-ga -m virtio-serial -p "$port" -f /tmp/qemu-ga.pid -t /tmp --fsfreeze-hook=/etc/fsfreeze-hook \
        > /tmp/qemu-ga.log 2>&1 &
    say "AGENT started $port"
}

say "BOOT $BOOT"
say "$(firmware_report)"
if [ -e /sys/class/tpm/tpm0 ]; then say "TPM yes $(cat /sys/class/tpm/tpm0/tpm_version_major 2>/dev/null)"; else say "TPM no"; fi
case ",$WORK," in *,ram,*) ram_work & ;; esac
case ",$WORK," in *,disk,*) disk_work & ;; esac
case ",$WORK," in *,tty1,*) tty1_shell & ;; esac
case ",$WORK," in *,agent,*) agent_work ;; esac
say "READY"
while :; do setsid cttyhack sh -l; done
