using MiniDocker.Runtime;
using MiniDocker.Runtime.Volumes;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Tests;

/// <summary>-v, --mount and --tmpfs read as Docker reads them, with Docker's words for what it refuses.</summary>
public sealed class MountParserTests
{
    [Fact]
    public void Volume_forms_bind_named_and_anonymous()
    {
        var bind = MountParser.ParseVolume("/srv/data:/data:ro", "/");
        Assert.Equal((MountType.Bind, "/srv/data", "/data", true, "ro"), (bind.Type, bind.Source, bind.Target, bind.ReadOnly, bind.Mode));
        Assert.True(bind.CreateMissingSource);

        var named = MountParser.ParseVolume("cache:/var/cache", "/");
        Assert.Equal((MountType.Volume, "cache", "/var/cache", false, false), (named.Type, named.Source, named.Target, named.ReadOnly, named.Anonymous));

        var anonymous = MountParser.ParseVolume("/scratch", "/");
        Assert.Equal((MountType.Volume, "", "/scratch", true), (anonymous.Type, anonymous.Source, anonymous.Target, anonymous.Anonymous));

        var relative = MountParser.ParseVolume("./sub:/x", "/home/u");
        Assert.Equal("/home/u/sub", relative.Source);
        Assert.True(MountParser.ParseVolume("v1:/x:nocopy,rw", "/").NoCopy);
    }

    [Theory]
    [InlineData("/a:/b:/c:ro", "invalid volume specification: '/a:/b:/c:ro'")]
    [InlineData("/foo:rw", "invalid volume specification: '/foo:rw'")]
    [InlineData("/a:/b:rx", "invalid mode: rx")]
    [InlineData("/a:/b:ro,rw", "invalid mode: ro,rw")]
    [InlineData("/tmp:/", "invalid volume specification: '/tmp:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'")]
    [InlineData("/tmp:rel", "invalid volume specification: '/tmp:rel': invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute")]
    [InlineData("x!:/d", "create x!: \"x!\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")]
    [InlineData("/tmp:/proc", "\"/proc\" cannot be mounted because it is not of type proc")]
    [InlineData("/tmp:/proc/sys/kernel", "\"/proc/sys/kernel\" cannot be mounted because it is inside /proc")]
    [InlineData("/tmp:/x/../proc/sys", "\"/proc/sys\" cannot be mounted because it is inside /proc")]
    public void Volume_refusals_in_Dockers_words(string spec, string message)
    {
        var e = Assert.Throws<ContainerException>(() => MountParser.ParseVolume(spec, "/"));
        Assert.Equal(message, e.Message);
    }

    [Theory]
    [InlineData("/tmp:/../../../etc", "/etc")]
    [InlineData("/tmp:/a/./b/../c/", "/a/c")]
    [InlineData("/tmp://data//x", "/data/x")]
    public void Destinations_are_cleaned_and_cannot_rise_above_the_root(string spec, string target) =>
        Assert.Equal(target, MountParser.ParseVolume(spec, "/").Target);

    [Fact]
    public void Mount_flag_fields()
    {
        var bind = MountParser.ParseMount("type=bind,source=/srv,target=/data,readonly");
        Assert.Equal((MountType.Bind, "/srv", "/data", true, false), (bind.Type, bind.Source, bind.Target, bind.ReadOnly, bind.CreateMissingSource));
        var volume = MountParser.ParseMount("src=v1,dst=/v,volume-nocopy");
        Assert.Equal((MountType.Volume, "v1", "/v", true), (volume.Type, volume.Source, volume.Target, volume.NoCopy));
        Assert.True(MountParser.ParseMount("type=volume,target=/anon").Anonymous);
        Assert.False(MountParser.ParseMount("type=bind,source=/s,target=/t,ro=false").ReadOnly);

        var tmpfs = MountParser.ParseMount("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770");
        Assert.Equal("size=67108864,mode=1770", tmpfs.TmpfsData);
        Assert.Equal(MS_NOEXEC | MS_NOSUID | MS_NODEV, tmpfs.TmpfsFlags);
        Assert.NotEqual(0UL, MountParser.ParseMount("type=tmpfs,target=/t,readonly").TmpfsFlags & MS_RDONLY);
    }

    [Theory]
    [InlineData("type=bind,source=/s", "invalid argument \"type=bind,source=/s\" for \"--mount\" flag: target is required")]
    [InlineData("type=nfs,target=/t", "invalid argument \"type=nfs,target=/t\" for \"--mount\" flag: mount type 'nfs' is not supported (bind, volume, tmpfs)")]
    [InlineData("type=bind,target=/t,foo=1", "invalid argument \"type=bind,target=/t,foo=1\" for \"--mount\" flag: unexpected key 'foo' in 'foo=1'")]
    [InlineData("type=bind,target", "invalid argument \"type=bind,target\" for \"--mount\" flag: invalid field 'target' must be a key=value pair")]
    [InlineData("type=bind,target=/t", "invalid mount config for type \"bind\": field Source must not be empty")]
    [InlineData("type=tmpfs,source=x,target=/t", "invalid mount config for type \"tmpfs\": field Source must not be specified")]
    [InlineData("type=bind,source=/s,target=/t,volume-nocopy", "invalid argument \"type=bind,source=/s,target=/t,volume-nocopy\" for \"--mount\" flag: cannot mix 'volume-*' options with mount type 'bind'")]
    [InlineData("type=tmpfs,target=/t,tmpfs-size=lots", "invalid argument \"type=tmpfs,target=/t,tmpfs-size=lots\" for \"--mount\" flag: invalid size: 'lots'")]
    [InlineData("type=bind,source=/s,target=/proc/1", "\"/proc/1\" cannot be mounted because it is inside /proc")]
    public void Mount_refusals(string spec, string message)
    {
        var e = Assert.Throws<ContainerException>(() => MountParser.ParseMount(spec));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Tmpfs_defaults_options_and_refusals()
    {
        var plain = MountParser.ParseTmpfs("/run");
        Assert.Equal(("/run", MS_NOEXEC | MS_NOSUID | MS_NODEV, ""), (plain.Target, plain.TmpfsFlags, plain.TmpfsData));
        var sized = MountParser.ParseTmpfs("/cache:exec,size=1m,mode=700,uid=1000,size=2m");
        Assert.Equal(MS_NOSUID | MS_NODEV, sized.TmpfsFlags);
        Assert.Equal("mode=700,uid=1000,size=2097152", sized.TmpfsData);
        Assert.True(MountParser.ParseTmpfs("/ro:ro").ReadOnly);
        // The data string goes to mount(2) as it is: no option tmpfs does not know, no value that could carry another.
        Assert.Throws<ContainerException>(() => MountParser.ParseTmpfs("/t:context=x"));
        Assert.Throws<ContainerException>(() => MountParser.ParseTmpfs("/t:uid=0;x"));
        Assert.Throws<ContainerException>(() => MountParser.ParseTmpfs("/t:mode=99999"));
        Assert.Throws<ContainerException>(() => MountParser.ParseTmpfs("relative"));
    }

    [Fact]
    public void A_destination_is_mounted_once()
    {
        var e = Assert.Throws<ContainerException>(() => MountParser.ParseAll(["/a:/data"], ["type=tmpfs,target=/data/"], [], "/"));
        Assert.Equal("Duplicate mount point: /data", e.Message);
    }
}
