using System.Buffers.Binary;
using MiniDocker.Linux;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Cgroups;

/// <summary>
/// cgroup v2's device rules: a BPF_PROG_TYPE_CGROUP_DEVICE program, built from the same rules v1 writes to devices.allow,
/// the way runc's devicefilter builds it. The kernel runs it on every open and mknod of a device node by a member of
/// the cgroup, with a struct bpf_cgroup_dev_ctx { u32 access_type (access &lt;&lt; 16 | type); u32 major; u32 minor; }.
/// Hand-assembled rather than through libbpf: the program is about ten instructions per rule and needs no ELF, BTF or
/// relocations, and libbpf is not a package every lab VM has.
/// </summary>
public static class BpfDeviceFilter
{
    // Opcodes (linux/bpf.h, bpf_common.h): class | op | source.
    private const byte LdxMemW = 0x61;      // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
    private const byte And32Imm = 0x54;     // BPF_ALU | BPF_AND | BPF_K
    private const byte Rsh32Imm = 0x74;     // BPF_ALU | BPF_RSH | BPF_K
    private const byte Mov32Reg = 0xbc;     // BPF_ALU | BPF_MOV | BPF_X
    private const byte Mov64Imm = 0xb7;     // BPF_ALU64 | BPF_MOV | BPF_K
    private const byte JneImm = 0x55;       // BPF_JMP | BPF_JNE | BPF_K: if dst != imm, pc += off
    private const byte JneReg = 0x5d;       // BPF_JMP | BPF_JNE | BPF_X
    private const byte Exit = 0x95;         // BPF_JMP | BPF_EXIT
    private const int InstructionSize = 8;

    private readonly record struct Instruction(byte Code, byte Dst, byte Src, short Offset, int Immediate);

    /// <summary>
    /// The program's instructions (struct bpf_insn, little-endian as on x86_64 and arm64). Later rules win over earlier
    /// ones, as in v1 where each write to devices.allow/deny amends the list: the rules are tested last to first and
    /// the first match decides; no match denies.
    /// </summary>
    public static byte[] Assemble(IReadOnlyList<DeviceRule> rules)
    {
        var program = new List<Instruction>
        {
            // R2 = type (low 16 bits of access_type), R3 = access (high 16), R4 = major, R5 = minor.
            new(LdxMemW, 2, 1, 0, 0),
            new(And32Imm, 2, 0, 0, 0xFFFF),
            new(LdxMemW, 3, 1, 0, 0),
            new(Rsh32Imm, 3, 0, 0, 16),
            new(LdxMemW, 4, 1, 4, 0),
            new(LdxMemW, 5, 1, 8, 0),
        };
        bool unconditional = false;
        for (int i = rules.Count - 1; i >= 0 && !unconditional; i--)
        {
            var block = RuleBlock(rules[i]);
            program.AddRange(block);
            // A rule that tests nothing ("a *:* rwm") always decides: what would follow it is unreachable, and the
            // verifier refuses unreachable instructions.
            unconditional = block.Count == 2;
        }
        if (!unconditional)
        {
            program.Add(new(Mov64Imm, 0, 0, 0, 0)); // no rule matched: deny
            program.Add(new(Exit, 0, 0, 0, 0));
        }

        var bytes = new byte[program.Count * InstructionSize];
        for (int i = 0; i < program.Count; i++)
        {
            var span = bytes.AsSpan(i * InstructionSize, InstructionSize);
            span[0] = program[i].Code;
            span[1] = (byte)(program[i].Dst & 0xF | (program[i].Src & 0xF) << 4); // dst_reg:4 then src_reg:4 (LE bitfields)
            BinaryPrimitives.WriteInt16LittleEndian(span[2..], program[i].Offset);
            BinaryPrimitives.WriteInt32LittleEndian(span[4..], program[i].Immediate);
        }
        return bytes;
    }

    /// <summary>Tests one rule; on a match sets R0 to the rule's verdict and exits, else falls through to the next.</summary>
    private static List<Instruction> RuleBlock(DeviceRule rule)
    {
        int access = (rule.Access.Contains('m') ? BPF_DEVCG_ACC_MKNOD : 0) | (rule.Access.Contains('r') ? BPF_DEVCG_ACC_READ : 0)
                   | (rule.Access.Contains('w') ? BPF_DEVCG_ACC_WRITE : 0);
        if (access == 0) return [];
        int all = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
        // Each test jumps past the rest of this block; its distance is patched in once the block's length is known.
        var tests = new List<Instruction>();
        if (rule.Type != 'a')
            tests.Add(new(JneImm, 2, 0, 0, rule.Type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
        if (access != all)
        {
            // Every access asked for must be among the rule's: (asked & rule) == asked.
            tests.Add(new(Mov32Reg, 1, 3, 0, 0));
            tests.Add(new(And32Imm, 1, 0, 0, access));
            tests.Add(new(JneReg, 1, 3, 0, 0));
        }
        if (rule.Type != 'a' && rule.Major != DeviceRule.Any) tests.Add(new(JneImm, 4, 0, 0, checked((int)rule.Major)));
        if (rule.Type != 'a' && rule.Minor != DeviceRule.Any) tests.Add(new(JneImm, 5, 0, 0, checked((int)rule.Minor)));
        var block = new List<Instruction>(tests)
        {
            new(Mov64Imm, 0, 0, 0, rule.Allow ? 1 : 0),
            new(Exit, 0, 0, 0, 0),
        };
        for (int i = 0; i < block.Count; i++)
            if (block[i].Code is JneImm or JneReg)
                block[i] = block[i] with { Offset = (short)(block.Count - i - 1) };
        return block;
    }

    /// <summary>Loads the program for <paramref name="rules"/> and attaches it to the cgroup directory
    /// <paramref name="cgroupDirectory"/>. BPF_F_ALLOW_MULTI, as runc: a program an ancestor has (systemd gives units
    /// one) still runs, and the device is allowed only if every program allows it.</summary>
    public static unsafe void Attach(string cgroupDirectory, IReadOnlyList<DeviceRule> rules)
    {
        byte[] instructions = Assemble(rules);
        using var program = Load(instructions);
        using var cgroup = Fd.Open(cgroupDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        var attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        // union bpf_attr, BPF_PROG_ATTACH: u32 target_fd; u32 attach_bpf_fd; u32 attach_type; u32 attach_flags.
        *(uint*)attr = (uint)cgroup.Value;
        *(uint*)(attr + 4) = (uint)program.Value;
        *(uint*)(attr + 8) = (uint)BPF_CGROUP_DEVICE;
        *(uint*)(attr + 12) = (uint)BPF_F_ALLOW_MULTI;
        if (syscall(SYS_bpf, BPF_PROG_ATTACH, attr, AttrSize) < 0)
            throw new SyscallException("bpf(BPF_PROG_ATTACH)", cgroupDirectory, LastErrno);
        // The cgroup holds the program from here; our descriptor closes. It goes when the cgroup is removed.
    }

    /// <summary>The size passed for union bpf_attr: the kernel reads the fields it knows and requires the rest to be 0.</summary>
    private const int AttrSize = 128;

    private static unsafe Fd Load(byte[] instructions)
    {
        byte[] license = "GPL\0"u8.ToArray(); // cgroup device programs call no GPL-only helpers; any string works
        const int logSize = 64 * 1024;
        byte[] log = new byte[logSize];
        var attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        fixed (byte* insns = instructions)
        fixed (byte* lic = license)
        fixed (byte* logBuffer = log)
        {
            // BPF_PROG_LOAD: u32 prog_type; u32 insn_cnt; u64 insns; u64 license; u32 log_level; u32 log_size;
            // u64 log_buf; u32 kern_version; u32 prog_flags; char prog_name[16] (at 48).
            *(uint*)attr = (uint)BPF_PROG_TYPE_CGROUP_DEVICE;
            *(uint*)(attr + 4) = (uint)(instructions.Length / InstructionSize);
            *(ulong*)(attr + 8) = (ulong)insns;
            *(ulong*)(attr + 16) = (ulong)lic;
            *(uint*)(attr + 24) = 1;
            *(uint*)(attr + 28) = logSize;
            *(ulong*)(attr + 32) = (ulong)logBuffer;
            "minidocker_dev\0"u8.CopyTo(new Span<byte>(attr + 48, 16));
            long fd = syscall(SYS_bpf, BPF_PROG_LOAD, attr, AttrSize);
            if (fd < 0)
            {
                int errno = LastErrno;
                string verifier = System.Text.Encoding.ASCII.GetString(log, 0, Math.Max(0, Array.IndexOf(log, (byte)0)))
                    .Trim().Split('\n').LastOrDefault() ?? "";
                throw new SyscallException(verifier.Length > 0 ? $"bpf(BPF_PROG_LOAD) [{verifier}]" : "bpf(BPF_PROG_LOAD)",
                    "device program", errno);
            }
            return new Fd((int)fd);
        }
    }
}
