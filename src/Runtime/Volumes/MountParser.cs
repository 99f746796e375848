using System.Text.RegularExpressions;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Volumes;

/// <summary>Docker's three mount syntaxes (-v, --mount, --tmpfs) read into <see cref="MountSpec"/>s, with Docker's
/// error wording. Destinations are cleaned (Docker's path.Clean: "/a/../../etc" is "/etc") and checked here; the init
/// checks again where they really lead (a symlink in the image).</summary>
public static partial class MountParser
{
    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")]
    private static partial Regex VolumeNamePattern();

    [GeneratedRegex("^[0-9]+[kmgKMG%]?$")]
    private static partial Regex TmpfsSizePattern();

    public static bool IsValidVolumeName(string name) => VolumeNamePattern().IsMatch(name);

    public static void CheckVolumeName(string name)
    {
        if (!IsValidVolumeName(name))
            throw new ContainerException($"create {name}: \"{name}\" includes invalid characters for a local volume name, only " +
                "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path");
    }

    /// <summary>`-v [SRC:]DST[:MODE]`. SRC is a host path when it starts with / (or ./ ../, made absolute against
    /// <paramref name="cwd"/> as the docker CLI does), else a volume name; none is an anonymous volume.</summary>
    public static MountSpec ParseVolume(string raw, string cwd)
    {
        ContainerException Invalid(string? why = null) =>
            new($"invalid volume specification: '{raw}'" + (why is null ? "" : ": " + why));
        var parts = raw.Split(':');
        string? source = null, mode = "";
        string destination;
        switch (parts.Length)
        {
            case 1: destination = parts[0]; break;
            case 2:
                // "/foo:rw" is a destination and a mode: a volume without a source cannot have one (Docker refuses it).
                if (IsModeList(parts[1])) throw Invalid();
                (source, destination) = (parts[0], parts[1]);
                break;
            case 3: (source, destination, mode) = (parts[0], parts[1], parts[2]); break;
            default: throw Invalid();
        }
        if (destination.Length == 0 || source is { Length: 0 }) throw Invalid();
        var spec = new MountSpec { Mode = mode, CreateMissingSource = true };
        if (source is null) { spec.Type = MountType.Volume; spec.Anonymous = true; }
        else if (source.StartsWith('/') || source == "." || source == ".." || source.StartsWith("./") || source.StartsWith("../"))
        {
            spec.Type = MountType.Bind;
            spec.Source = Path.GetFullPath(source, cwd);
        }
        else
        {
            CheckVolumeName(source);
            spec.Type = MountType.Volume;
            spec.Source = source;
        }
        foreach (var option in mode.Length == 0 ? [] : mode.Split(','))
        {
            switch (option)
            {
                case "ro": spec.ReadOnly = true; break;
                case "rw": spec.ReadOnly = false; break;
                case "z" or "Z": break; // SELinux relabelling: nothing to do without SELinux
                case "nocopy" when spec.Type == MountType.Volume: spec.NoCopy = true; break;
                case "private" or "rprivate": spec.Propagation = option; break;
                default: throw new ContainerException($"invalid mode: {mode}");
            }
        }
        if (mode.Split(',').Count(o => o is "ro" or "rw") > 1) throw new ContainerException($"invalid mode: {mode}");
        spec.Target = CheckDestination(destination, spec.Type, e => Invalid(e));
        return spec;
    }

    private static bool IsModeList(string text) =>
        text.Split(',').All(o => o is "ro" or "rw" or "z" or "Z" or "nocopy" or "private" or "rprivate" or "shared" or "rshared" or "slave" or "rslave");

    /// <summary>`--mount type=bind|volume|tmpfs,source=,target=,readonly,...` (Docker's CSV fields).</summary>
    public static MountSpec ParseMount(string raw)
    {
        ContainerException Invalid(string why) => new($"invalid argument \"{raw}\" for \"--mount\" flag: {why}");
        var spec = new MountSpec();
        string type = "volume";
        string? source = null, target = null, size = null, tmpfsMode = null;
        bool sawVolumeOption = false, sawBindOption = false, sawTmpfsOption = false;
        foreach (var field in raw.Split(','))
        {
            var kv = field.Split('=', 2);
            string key = kv[0].Trim().ToLowerInvariant();
            string? value = kv.Length == 2 ? kv[1].Trim() : null;
            if (value is null && key is not ("readonly" or "ro" or "volume-nocopy"))
                throw Invalid($"invalid field '{field}' must be a key=value pair");
            switch (key)
            {
                case "type": type = value!; break;
                case "source" or "src": source = value; break;
                case "target" or "destination" or "dst": target = value; break;
                case "readonly" or "ro": spec.ReadOnly = ParseBool(key, value, Invalid); break;
                case "consistency": break; // a macOS-only hint in Docker
                case "bind-propagation":
                    sawBindOption = true;
                    if (value is not ("private" or "rprivate")) throw Invalid($"bind-propagation {value} is not supported (private, rprivate)");
                    spec.Propagation = value;
                    break;
                case "volume-nocopy": sawVolumeOption = true; spec.NoCopy = ParseBool(key, value, Invalid); break;
                case "tmpfs-size": sawTmpfsOption = true; size = value; break;
                case "tmpfs-mode": sawTmpfsOption = true; tmpfsMode = value; break;
                default: throw Invalid($"unexpected key '{key}' in '{field}'");
            }
        }
        spec.Type = type switch
        {
            "bind" => MountType.Bind,
            "volume" => MountType.Volume,
            "tmpfs" => MountType.Tmpfs,
            _ => throw Invalid($"mount type '{type}' is not supported (bind, volume, tmpfs)"),
        };
        if (target is null or "") throw Invalid("target is required");
        if (sawVolumeOption && spec.Type != MountType.Volume) throw Invalid($"cannot mix 'volume-*' options with mount type '{type}'");
        if (sawBindOption && spec.Type != MountType.Bind) throw Invalid($"cannot mix 'bind-*' options with mount type '{type}'");
        if (sawTmpfsOption && spec.Type != MountType.Tmpfs) throw Invalid($"cannot mix 'tmpfs-*' options with mount type '{type}'");
        string Config(string why) => $"invalid mount config for type \"{type}\": {why}";
        switch (spec.Type)
        {
            case MountType.Bind:
                if (string.IsNullOrEmpty(source)) throw new ContainerException(Config("field Source must not be empty"));
                if (!source.StartsWith('/')) throw new ContainerException(Config($"invalid mount path: '{source}' mount path must be absolute"));
                spec.Source = Path.GetFullPath(source);
                break;
            case MountType.Volume:
                if (string.IsNullOrEmpty(source)) spec.Anonymous = true;
                else { CheckVolumeName(source); spec.Source = source; }
                break;
            case MountType.Tmpfs:
                if (!string.IsNullOrEmpty(source)) throw new ContainerException(Config("field Source must not be specified"));
                var options = new List<string>();
                if (size is not null) options.Add("size=" + ParseSize(size, Invalid));
                if (tmpfsMode is not null)
                {
                    try { options.Add("mode=" + Convert.ToString(Convert.ToUInt32(tmpfsMode, 8), 8)); }
                    catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
                    { throw Invalid($"invalid value for tmpfs-mode: {tmpfsMode}"); }
                }
                (spec.TmpfsFlags, spec.TmpfsData) = TmpfsOptions(options, e => Invalid(e));
                if (spec.ReadOnly) spec.TmpfsFlags |= MS_RDONLY;
                break;
        }
        spec.Target = CheckDestination(target, spec.Type, why => new ContainerException(Config(why)));
        return spec;
    }

    /// <summary>`--tmpfs /PATH[:OPTIONS]`: a tmpfs with Docker's defaults (noexec, nosuid, nodev), options after them.</summary>
    public static MountSpec ParseTmpfs(string raw)
    {
        int colon = raw.IndexOf(':');
        string destination = colon < 0 ? raw : raw[..colon];
        var options = colon < 0 ? [] : raw[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries).ToList();
        var spec = new MountSpec { Type = MountType.Tmpfs, FromTmpfsFlag = true };
        (spec.TmpfsFlags, spec.TmpfsData) = TmpfsOptions(options, why => new ContainerException($"invalid tmpfs option for {destination}: {why}"));
        spec.ReadOnly = (spec.TmpfsFlags & MS_RDONLY) != 0;
        spec.Target = CheckDestination(destination, MountType.Tmpfs,
            why => new ContainerException($"invalid mount config for type \"tmpfs\": {why}"));
        return spec;
    }

    /// <summary>Flags and data of a tmpfs. Only options tmpfs knows are let through: the data string goes to mount(2)
    /// as it is, and a value with a comma would smuggle in another option.</summary>
    private static (ulong Flags, string Data) TmpfsOptions(IEnumerable<string> options, Func<string, Exception> invalid)
    {
        ulong flags = MS_NOEXEC | MS_NOSUID | MS_NODEV;
        var data = new List<string>();
        foreach (var option in options)
        {
            var kv = option.Split('=', 2);
            switch (kv[0])
            {
                case "ro": flags |= MS_RDONLY; break;
                case "rw": flags &= ~MS_RDONLY; break;
                case "exec": flags &= ~MS_NOEXEC; break;
                case "noexec": flags |= MS_NOEXEC; break;
                case "suid": flags &= ~MS_NOSUID; break;
                case "nosuid": flags |= MS_NOSUID; break;
                case "dev": flags &= ~MS_NODEV; break;
                case "nodev": flags |= MS_NODEV; break;
                case "size" when kv.Length == 2: data.Add("size=" + ParseSize(kv[1], invalid)); break;
                case "mode" when kv.Length == 2 && kv[1].Length is > 0 and <= 4 && kv[1].All(c => c is >= '0' and <= '7'):
                case "uid" or "gid" or "nr_inodes" or "nr_blocks" when kv.Length == 2 && TmpfsSizePattern().IsMatch(kv[1]):
                    data.RemoveAll(d => d.StartsWith(kv[0] + "=", StringComparison.Ordinal));
                    data.Add(option);
                    break;
                default: throw invalid($"invalid tmpfs option \"{option}\"");
            }
        }
        // The last size= wins, as in mount(8).
        var sizes = data.Where(d => d.StartsWith("size=", StringComparison.Ordinal)).ToList();
        if (sizes.Count > 1) data.RemoveAll(d => sizes.Take(sizes.Count - 1).Contains(d));
        return (flags, string.Join(',', data));
    }

    /// <summary>A size as Docker's RAMInBytes reads it ("64m", "1g", "4096"): bytes, for the data string.</summary>
    public static string ParseSize(string text, Func<string, Exception> invalid)
    {
        if (text.EndsWith('%') && TmpfsSizePattern().IsMatch(text)) return text; // tmpfs's own "50%"
        var match = Regex.Match(text.ToLowerInvariant(), @"^([0-9]+)\s*([kmgt]?)(i?b)?$");
        if (!match.Success) throw invalid($"invalid size: '{text}'");
        long value = long.Parse(match.Groups[1].Value);
        int shift = match.Groups[2].Value switch { "k" => 10, "m" => 20, "g" => 30, "t" => 40, _ => 0 };
        if (value > long.MaxValue >> shift) throw invalid($"invalid size: '{text}'");
        return (value << shift).ToString();
    }

    private static bool ParseBool(string key, string? value, Func<string, Exception> invalid) => value?.ToLowerInvariant() switch
    {
        null or "" or "1" or "true" => true,
        "0" or "false" => false,
        _ => throw invalid($"invalid value for {key}: {value}"),
    };

    /// <summary>Absolute, cleaned, not "/", not in /proc (runc's rule: a mount there could hide or replace the kernel
    /// files the masks protect).</summary>
    public static string CheckDestination(string destination, MountType type, Func<string, Exception> invalid)
    {
        if (!destination.StartsWith('/'))
            throw invalid($"invalid mount config for type \"{TypeName(type)}\": invalid mount path: '{destination}' mount path must be absolute");
        string clean = Path.GetFullPath(destination); // "." and ".." removed; cannot rise above "/"
        if (clean.Length > 1) clean = clean.TrimEnd('/');
        if (clean == "/")
            throw invalid($"invalid mount config for type \"{TypeName(type)}\": invalid specification: destination can't be '/'");
        CheckNotInProc(clean);
        return clean;
    }

    public static void CheckNotInProc(string clean)
    {
        if (clean == "/proc") throw new ContainerException("\"/proc\" cannot be mounted because it is not of type proc");
        if (clean.StartsWith("/proc/", StringComparison.Ordinal))
            throw new ContainerException($"\"{clean}\" cannot be mounted because it is inside /proc");
    }

    public static string TypeName(MountType type) => type.ToString().ToLowerInvariant();

    /// <summary>All of a run's mounts: -v, then --mount, then --tmpfs; one destination at most once (Docker).</summary>
    public static List<MountSpec> ParseAll(IEnumerable<string> volumes, IEnumerable<string> mounts, IEnumerable<string> tmpfs, string cwd)
    {
        var all = volumes.Select(v => ParseVolume(v, cwd)).Concat(mounts.Select(ParseMount)).Concat(tmpfs.Select(ParseTmpfs)).ToList();
        var duplicate = all.GroupBy(m => m.Target).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ContainerException($"Duplicate mount point: {duplicate.Key}");
        return all;
    }
}
