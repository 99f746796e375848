using System.Text.Json;
using System.Text.Json.Serialization;
using MiniDocker.Linux;

namespace MiniDocker.Runtime.Security;

/// <summary>A container's seccomp and no_new_privs settings, fixed when it is created (part of config.json) and
/// applied by its init and by every exec.</summary>
public sealed class SecurityConfig
{
    /// <summary>--security-opt as given, for inspect.</summary>
    public List<string> SecurityOpt { get; set; } = new();
    public bool NoNewPrivileges { get; set; }
    /// <summary>"default", a profile file's path, or "unconfined" (also what a config from before seccomp reads as).</summary>
    public string SeccompProfile { get; set; } = SecurityOptions.Unconfined;
    /// <summary>The compiled filter (struct sock_filter[]); empty when unconfined.</summary>
    public byte[] SeccompFilter { get; set; } = [];

    [JsonIgnore] public bool Confined => SeccompProfile != SecurityOptions.Unconfined;
}

/// <summary>`--security-opt` (Docker's seccomp=PROFILE|unconfined and no-new-privileges[=BOOL]) turned into a
/// <see cref="SecurityConfig"/>. The default profile is Podman's, from containers-common, with
/// <see cref="DefaultHardening"/>.</summary>
public static class SecurityOptions
{
    public const string DefaultProfilePath = "/usr/share/containers/seccomp.json";
    public const string Unconfined = "unconfined";
    private const int ProfileSizeLimit = 1 << 20;

    /// <summary>Docker's default capability set, by name: what the filter is resolved against until run takes
    /// --cap-add/--cap-drop.</summary>
    public static readonly string[] DefaultCapabilities = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT",
        "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"];

    /// <param name="capabilities">the container's capability set (CAP_ names): rules include or exclude by it.</param>
    /// <param name="privileged">--privileged: no seccomp at all, whatever the options say (Docker).</param>
    public static SecurityConfig Build(IReadOnlyList<string> securityOpt, IReadOnlyCollection<string> capabilities,
        bool privileged = false, SeccompTarget? target = null)
    {
        string? seccomp = null;
        bool noNewPrivileges = false;
        foreach (var option in securityOpt)
        {
            int sep = option.IndexOfAny(['=', ':']);
            string key = sep < 0 ? option : option[..sep], value = sep < 0 ? "" : option[(sep + 1)..];
            switch (key)
            {
                case "seccomp" when value.Length > 0:
                    seccomp = value;
                    break;
                case "no-new-privileges" when sep < 0 || bool.TryParse(value, out _):
                    noNewPrivileges = sep < 0 || bool.Parse(value);
                    break;
                default:
                    throw new ContainerException($"invalid --security-opt: \"{option}\"");
            }
        }
        byte[] filter = [];
        if (privileged) seccomp = Unconfined;
        if (seccomp != Unconfined)
        {
            target ??= SeccompTarget.Host;
            string? source = SourceKey(seccomp ?? DefaultProfilePath, isDefault: seccomp is null, capabilities, target);
            if (source is null || SeccompFilterCache.TryGetBySource(source) is not { } known)
            {
                var profile = seccomp is null ? DefaultHardening.Apply(Load(DefaultProfilePath, isDefault: true)) : Load(seccomp, isDefault: false);
                var resolved = SeccompResolver.Resolve(profile, capabilities, target);
                filter = SeccompFilterCache.GetOrCompile(resolved, LibSeccomp.Version(), LibSeccomp.Compile);
                if (source is not null && LibSeccomp.LoadedFile() is { } library) SeccompFilterCache.RememberBySource(source, library, filter);
            }
            else filter = known;
        }
        return new SecurityConfig
        {
            SecurityOpt = securityOpt.ToList(), NoNewPrivileges = noNewPrivileges, SeccompProfile = seccomp ?? "default", SeccompFilter = filter,
        };
    }

    /// <summary>
    /// What the compiled filter is a function of, without reading the profile: its file's identity, whether
    /// <see cref="DefaultHardening"/> applies, the capability set, the target, and this binary (the resolver and the
    /// hardening are code). Null when someone other than root could change the profile file (see
    /// <see cref="FileIdentity.OnlyRootCanChange"/>): then only the content-keyed cache is used.
    /// </summary>
    public static string? SourceKey(string profilePath, bool isDefault, IReadOnlyCollection<string> capabilities, SeccompTarget target)
    {
        if (!FileIdentity.OnlyRootCanChange(profilePath)) return null;
        if (FileIdentity.Of(profilePath) is not { } profile || FileIdentity.Of("/proc/self/exe") is not { } self) return null;
        var caps = capabilities.Select(SeccompResolver.NormalizeCap).Distinct().Order(StringComparer.Ordinal);
        // The loader's search path decides which libseccomp a slow path would load.
        string loader = $"{Environment.GetEnvironmentVariable("LD_LIBRARY_PATH")}|{Environment.GetEnvironmentVariable("LD_PRELOAD")}";
        return $"s1 {self}\nprofile {Path.Combine(Environment.CurrentDirectory, profilePath)} {profile} hardened={isDefault}\n{target.GoArch} {target.ScmpArch} {target.Kernel}\n"
               + $"caps {string.Join(',', caps)}\nloader {loader}";
    }

    public static SeccompProfile Load(string path, bool isDefault)
    {
        byte[]? content;
        try { content = BoundedFile.Read(path, ProfileSizeLimit, path); }
        catch (MiniDockerException e) { throw new ContainerException($"opening seccomp profile ({path}) failed: {e.Message}"); }
        if (content is null)
            throw new ContainerException(isDefault
                ? $"the default seccomp profile {path} is missing (apt-get install golang-github-containers-common), or run with --security-opt seccomp=unconfined"
                : $"opening seccomp profile ({path}) failed: open {path}: no such file or directory");
        return Parse(content);
    }

    public static SeccompProfile Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, SeccompJson.Default.SeccompProfile)
                   ?? throw SeccompResolver.Invalid("the profile is null");
        }
        catch (JsonException e)
        {
            throw SeccompResolver.Invalid(e.Message.ReplaceLineEndings(" "));
        }
    }
}
