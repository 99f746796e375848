using MiniDocker.Linux;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Init;

/// <summary>The identity a process runs as inside the container.</summary>
public sealed record ContainerUser(uint Uid, uint Gid, IReadOnlyList<uint> Groups)
{
    /// <summary>Groups first, then gid, then uid: after setresuid a non-root user could no longer change the others.</summary>
    internal unsafe void Apply()
    {
        var groups = Groups.ToArray();
        fixed (uint* g = groups) Check(setgroups((nuint)groups.Length, g), "setgroups", $"{Uid}:{Gid}");
        Check(setresgid(Gid, Gid, Gid), "setresgid", Gid.ToString());
        Check(setresuid(Uid, Uid, Uid), "setresuid", Uid.ToString());
    }
}

/// <summary>`-u USER[:GROUP]` resolved against the container's own /etc/passwd and /etc/group, the way runc does:
/// numbers need no entry (a uid without one gets gid 0), names must have one.</summary>
public static class UserSpec
{
    public static ContainerUser Resolve(string? spec, string passwd, string group, IReadOnlyList<string> groupAdd)
    {
        var user = Resolve(spec, passwd, group);
        if (groupAdd.Count == 0) return user;
        var groups = Entries(group).Where(f => f.Length >= 3).ToList();
        var extra = groupAdd.Select(g => uint.TryParse(g, out uint gid) ? gid
            : groups.FirstOrDefault(f => f[0] == g) is { } named ? ParseId(named[2], "group")
            : throw new ContainerException($"unable to find group {g}: no matching entries in group file", ExitCodes.CannotExecute));
        return user with { Groups = user.Groups.Concat(extra).Distinct().ToList() };
    }

    public static ContainerUser Resolve(string? spec, string passwd, string group)
    {
        string userPart = spec ?? "", groupPart = "";
        int colon = userPart.IndexOf(':');
        if (colon >= 0) (userPart, groupPart) = (userPart[..colon], userPart[(colon + 1)..]);
        if (userPart.Length == 0) userPart = "0";

        var users = Entries(passwd).Where(f => f.Length >= 4).ToList();
        var groups = Entries(group).Where(f => f.Length >= 3).ToList();

        string[]? user = uint.TryParse(userPart, out uint uid)
            ? users.FirstOrDefault(f => f[2] == userPart)
            : users.FirstOrDefault(f => f[0] == userPart)
              ?? throw new ContainerException($"unable to find user {userPart}: no matching entries in passwd file", ExitCodes.CannotExecute);
        if (user is not null) uid = ParseId(user[2], "passwd");

        uint gid = user is null ? 0 : ParseId(user[3], "passwd");
        if (groupPart.Length > 0)
        {
            gid = uint.TryParse(groupPart, out uint g) ? g
                : groups.FirstOrDefault(f => f[0] == groupPart) is { } named ? ParseId(named[2], "group")
                : throw new ContainerException($"unable to find group {groupPart}: no matching entries in group file", ExitCodes.CannotExecute);
            return new ContainerUser(uid, gid, [gid]);
        }
        var supplementary = user is null ? [] : groups
            .Where(f => f.Length >= 4 && f[3].Split(',').Contains(user[0]))
            .Select(f => ParseId(f[2], "group"));
        return new ContainerUser(uid, gid, supplementary.Prepend(gid).Distinct().ToList());
    }

    private static IEnumerable<string[]> Entries(string text) => text.Split('\n')
        .Select(l => l.Trim())
        .Where(l => l.Length > 0 && !l.StartsWith('#'))
        .Select(l => l.Split(':'));

    private static uint ParseId(string text, string file) => uint.TryParse(text, out uint id) ? id
        : throw new ContainerException($"invalid id \"{text}\" in the container's /etc/{file}", ExitCodes.CannotExecute);

    /// <summary>A file of the container's root, or "" when the image has none. The container controls it: a link to
    /// /dev/zero or a FIFO there must not exhaust or hang the exec (see <see cref="BoundedFile"/>).</summary>
    internal static string ReadOrEmpty(string path)
    {
        try
        {
            var bytes = BoundedFile.Read(path, 4 << 20, "the container's " + path);
            return bytes is null ? "" : System.Text.Encoding.UTF8.GetString(bytes);
        }
        catch (MiniDockerException e) { throw new ContainerException(e.Message, ExitCodes.CannotExecute); }
    }
}
