using MiniDocker.Linux;

namespace MiniDocker.Runtime.Security;

/// <summary>
/// What MiniDocker adds to Podman's profile (containers-common 0.50 relies on capabilities alone and allows keyctl,
/// unshare, setns and clone with any flags) so that the default filter closes what Docker's own default.json closes:
/// the kernel keyrings, shared by every container and the host, and new namespaces (a user namespace gives a full
/// capability set over fresh mount and network namespaces) for a container without CAP_SYS_ADMIN.
/// Applied to the default profile only: a profile given with --security-opt seccomp=FILE is used as written.
/// </summary>
public static class DefaultHardening
{
    public static readonly string[] Keyrings = ["keyctl", "add_key", "request_key"];
    private static readonly string[] Namespaces = ["clone", "clone3", "unshare", "setns"];

    /// <summary>The namespace flags of clone (Docker's mask 0x7E020000).</summary>
    public static ulong NamespaceFlags => (ulong)(Libc.CLONE_NEWNS | Libc.CLONE_NEWCGROUP | Libc.CLONE_NEWUTS |
        Libc.CLONE_NEWIPC | Libc.CLONE_NEWUSER | Libc.CLONE_NEWPID | Libc.CLONE_NEWNET);

    public static SeccompProfile Apply(SeccompProfile profile)
    {
        var replaced = Keyrings.Concat(Namespaces).ToHashSet(StringComparer.Ordinal);
        var syscalls = new List<SeccompSyscallRule>();
        foreach (var rule in profile.Syscalls ?? [])
        {
            var names = rule.AllNames.Where(n => !replaced.Contains(n)).ToList();
            if (names.Count == 0) continue;
            syscalls.Add(new SeccompSyscallRule
            {
                Names = names, Action = rule.Action, ErrnoRet = rule.ErrnoRet, Args = rule.Args,
                Includes = rule.Includes, Excludes = rule.Excludes,
            });
        }
        syscalls.AddRange(Rules());
        return new SeccompProfile
        {
            DefaultAction = profile.DefaultAction, DefaultErrnoRet = profile.DefaultErrnoRet,
            ArchMap = profile.ArchMap, Architectures = profile.Architectures, Syscalls = syscalls,
        };
    }

    private static IEnumerable<SeccompSyscallRule> Rules()
    {
        var sysAdmin = new List<string> { "CAP_SYS_ADMIN" };
        uint eperm = (uint)Errno.EPERM;
        yield return new() { Names = [.. Keyrings], Action = "SCMP_ACT_ERRNO", ErrnoRet = eperm };
        yield return new() { Names = [.. Namespaces], Action = "SCMP_ACT_ALLOW", Includes = new() { Caps = sysAdmin } };
        yield return new() { Names = ["unshare", "setns"], Action = "SCMP_ACT_ERRNO", ErrnoRet = eperm, Excludes = new() { Caps = sysAdmin } };
        // clone without namespace flags (threads, fork) stays allowed; each namespace flag is EPERM, as Docker's
        // default action gives it (Podman's default action is ENOSYS, which would read as "no clone here").
        yield return new()
        {
            Names = ["clone"], Action = "SCMP_ACT_ALLOW", Excludes = new() { Caps = sysAdmin },
            Args = [new() { Index = 0, Value = NamespaceFlags, ValueTwo = 0, Op = "SCMP_CMP_MASKED_EQ" }],
        };
        for (ulong bit = 1; bit != 0; bit <<= 1)
            if ((NamespaceFlags & bit) != 0)
                yield return new()
                {
                    Names = ["clone"], Action = "SCMP_ACT_ERRNO", ErrnoRet = eperm, Excludes = new() { Caps = sysAdmin },
                    Args = [new() { Index = 0, Value = bit, ValueTwo = bit, Op = "SCMP_CMP_MASKED_EQ" }],
                };
        // clone3 passes its flags in memory, out of a filter's reach: ENOSYS makes glibc fall back to clone (Docker).
        yield return new() { Names = ["clone3"], Action = "SCMP_ACT_ERRNO", ErrnoRet = (uint)Errno.ENOSYS, Excludes = new() { Caps = sysAdmin } };
    }
}
