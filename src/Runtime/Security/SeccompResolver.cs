using System.Runtime.InteropServices;
using MiniDocker.Linux;

namespace MiniDocker.Runtime.Security;

/// <summary>libseccomp's comparison operators (enum scmp_compare in seccomp.h).</summary>
public enum SeccompOp { NotEqual = 1, LessThan = 2, LessOrEqual = 3, Equal = 4, GreaterOrEqual = 5, GreaterThan = 6, MaskedEqual = 7 }

public sealed record SeccompArgCondition(uint Index, SeccompOp Op, ulong Value, ulong ValueTwo);

/// <summary>One system call's rule after includes/excludes: <see cref="Action"/> is the kernel's return value
/// (SECCOMP_RET_* with the errno in its low 16 bits).</summary>
public sealed record ResolvedSeccompRule(string Name, uint Action, IReadOnlyList<SeccompArgCondition> Args);

/// <summary>What libseccomp compiles: <see cref="Architectures"/> are libseccomp's names (x86_64, x86, x32...).</summary>
public sealed record ResolvedSeccompFilter(uint DefaultAction, IReadOnlyList<string> Architectures, IReadOnlyList<ResolvedSeccompRule> Rules);

/// <summary>The machine a profile is resolved for: Go's architecture name (the profile's "arches" use it), its
/// SCMP_ARCH_ name (archMap uses it) and the kernel version (minKernel).</summary>
public sealed record SeccompTarget(string GoArch, string ScmpArch, Version Kernel)
{
    public static SeccompTarget Host => new(
        RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "arm64" : "amd64",
        RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "SCMP_ARCH_AARCH64" : "SCMP_ARCH_X86_64",
        Environment.OSVersion.Version);
}

/// <summary>
/// Docker's reading of a profile (moby's profiles/seccomp setupSeccomp, runc's rule conversion): a rule applies when
/// the container holds all of its included capabilities and none of its excluded ones, on an included and not
/// excluded architecture, on a kernel at least minKernel; an ERRNO without errnoRet is EPERM.
/// </summary>
public static class SeccompResolver
{
    public static ResolvedSeccompFilter Resolve(SeccompProfile profile, IReadOnlyCollection<string> capabilities, SeccompTarget target)
    {
        uint defaultAction = ParseAction(profile.DefaultAction, profile.DefaultErrnoRet, "defaultAction");
        var caps = new HashSet<string>(capabilities.Select(NormalizeCap), StringComparer.Ordinal);
        var rules = new List<ResolvedSeccompRule>();
        foreach (var rule in profile.Syscalls ?? [])
        {
            if (!Applies(rule, caps, target)) continue;
            var names = rule.AllNames.ToList();
            if (names.Count == 0) throw Invalid("a syscalls entry has no names");
            uint action = ParseAction(rule.Action, rule.ErrnoRet, string.Join(",", names));
            var args = (rule.Args ?? []).Select(a => new SeccompArgCondition(a.Index, ParseOp(a.Op), a.Value, a.ValueTwo)).ToList();
            if (args.Any(a => a.Index > 5)) throw Invalid($"{names[0]}: an argument index is above 5");
            foreach (var name in names) rules.Add(new ResolvedSeccompRule(name, action, args));
        }
        return new ResolvedSeccompFilter(defaultAction, Architectures(profile, target), rules);
    }

    private static bool Applies(SeccompSyscallRule rule, HashSet<string> caps, SeccompTarget target)
    {
        if (rule.Includes is { } inc)
        {
            if (inc.Caps is { Count: > 0 } && !inc.Caps.All(c => caps.Contains(NormalizeCap(c)))) return false;
            if (inc.Arches is { Count: > 0 } && !inc.Arches.Contains(target.GoArch)) return false;
            if (inc.MinKernel is { Length: > 0 } min && target.Kernel < ParseKernel(min)) return false;
        }
        if (rule.Excludes is { } exc)
        {
            if (exc.Caps is { Count: > 0 } && exc.Caps.Any(c => caps.Contains(NormalizeCap(c)))) return false;
            if (exc.Arches is { Count: > 0 } && exc.Arches.Contains(target.GoArch)) return false;
        }
        return true;
    }

    /// <summary>The native architecture and, from archMap, its sub-architectures (x86 and x32 on x86_64), so their
    /// system calls meet the same rules rather than the kernel's bad-architecture kill.</summary>
    private static List<string> Architectures(SeccompProfile profile, SeccompTarget target)
    {
        var scmp = new List<string> { target.ScmpArch };
        if (profile.ArchMap is { } map)
        {
            foreach (var entry in map.Where(m => m.Architecture == target.ScmpArch))
                scmp.AddRange(entry.SubArchitectures ?? []);
        }
        else if (profile.Architectures is { } flat) scmp.AddRange(flat);
        return scmp.Distinct().Select(a => a.StartsWith("SCMP_ARCH_", StringComparison.Ordinal)
            ? a["SCMP_ARCH_".Length..].ToLowerInvariant()
            : throw Invalid($"unknown architecture \"{a}\"")).ToList();
    }

    internal static string NormalizeCap(string cap) =>
        cap.StartsWith("CAP_", StringComparison.OrdinalIgnoreCase) ? cap.ToUpperInvariant() : "CAP_" + cap.ToUpperInvariant();

    public static uint ParseAction(string action, uint? errnoRet, string what)
    {
        uint errno = Math.Min(errnoRet ?? (uint)Errno.EPERM, Libc.SECCOMP_RET_DATA);
        return action switch
        {
            "SCMP_ACT_ALLOW" => Libc.SECCOMP_RET_ALLOW,
            "SCMP_ACT_ERRNO" => Libc.SECCOMP_RET_ERRNO | errno,
            "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => Libc.SECCOMP_RET_KILL_THREAD,
            "SCMP_ACT_KILL_PROCESS" => Libc.SECCOMP_RET_KILL_PROCESS,
            "SCMP_ACT_TRAP" => Libc.SECCOMP_RET_TRAP,
            "SCMP_ACT_TRACE" => Libc.SECCOMP_RET_TRACE | errno,
            "SCMP_ACT_LOG" => Libc.SECCOMP_RET_LOG,
            "SCMP_ACT_NOTIFY" => throw Invalid($"{what}: SCMP_ACT_NOTIFY is not supported"),
            _ => throw Invalid($"{what}: unknown action \"{action}\""),
        };
    }

    private static SeccompOp ParseOp(string op) => op switch
    {
        "SCMP_CMP_NE" => SeccompOp.NotEqual,
        "SCMP_CMP_LT" => SeccompOp.LessThan,
        "SCMP_CMP_LE" => SeccompOp.LessOrEqual,
        "SCMP_CMP_EQ" => SeccompOp.Equal,
        "SCMP_CMP_GE" => SeccompOp.GreaterOrEqual,
        "SCMP_CMP_GT" => SeccompOp.GreaterThan,
        "SCMP_CMP_MASKED_EQ" => SeccompOp.MaskedEqual,
        _ => throw Invalid($"unknown argument operator \"{op}\""),
    };

    private static Version ParseKernel(string text)
    {
        var parts = text.Split('.');
        if (parts.Length < 2 || !int.TryParse(parts[0], out int major) || !int.TryParse(parts[1], out int minor))
            throw Invalid($"invalid minKernel \"{text}\"");
        return new Version(major, minor);
    }

    internal static ContainerException Invalid(string detail) => new($"decoding seccomp profile failed: {detail}");
}
