using Fabric.Actors.DataPlane.Io;

namespace Fabric.Actors.Pseudowire;

/// <summary>The kernel-side split of hellos from data on the 6635 port.</summary>
public sealed partial class PwUnderlay
{
    /// <summary>
    /// Classic BPF run by the kernel on each datagram reaching the 6635 SO_REUSEPORT group, the
    /// UDP payload at offset 0: returns 1 (the hello socket, bound second) when the word after
    /// the label stack starts with nibble 0001, the PW associated channel header (RFC 4385 §3,
    /// RFC 5085), else 0 (the data socket). The stack is one label (PW) or two (PW + RFC 6391
    /// flow label), told apart by the bottom-of-stack bit (RFC 3032 §2.1: bit 0 of byte 2 of an
    /// entry); deeper stacks and short datagrams count as data.
    /// <code>
    ///  0: ldb [2]              ; first entry, byte with S
    ///  1: jset #1, 2, 4        ; S set: control word at 4
    ///  2: ldb [4]
    ///  3: ja 7
    ///  4: ldb [6]              ; second entry, byte with S
    ///  5: jset #1, 6, 9        ; S set: control word at 8, else data
    ///  6: ldb [8]
    ///  7: rsh #4               ; first nibble of the control word / ACH
    ///  8: jeq #1, 10, 9
    ///  9: ret #0               ; data socket
    /// 10: ret #1               ; hello socket
    /// </code>
    /// </summary>
    internal static readonly ulong[] HelloSteeringProgram =
    [
        Insn(0x30, 0, 0, 2), // BPF_LD | BPF_B | BPF_ABS
        Insn(0x45, 0, 2, 1), // BPF_JMP | BPF_JSET | BPF_K
        Insn(0x30, 0, 0, 4),
        Insn(0x05, 0, 0, 3), // BPF_JMP | BPF_JA
        Insn(0x30, 0, 0, 6),
        Insn(0x45, 0, 3, 1),
        Insn(0x30, 0, 0, 8),
        Insn(0x74, 0, 0, 4), // BPF_ALU | BPF_RSH | BPF_K
        Insn(0x15, 1, 0, 1), // BPF_JMP | BPF_JEQ | BPF_K
        Insn(0x06, 0, 0, 0), // BPF_RET | BPF_K
        Insn(0x06, 0, 0, 1),
    ];

    /// <summary>struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; } as one little-endian word.</summary>
    private static ulong Insn(ushort code, byte jt, byte jf, uint k) => code | (ulong)jt << 16 | (ulong)jf << 24 | (ulong)k << 32;

    /// <summary>
    /// A second socket on the receiver's address and port, in its SO_REUSEPORT group, and the
    /// program that sends it the hellos; null (hellos stay on the data socket) when refused.
    /// </summary>
    private static UdpUnderlayPort? OpenHelloReceiver(UdpUnderlayPort receiver)
    {
        var hello = new UdpUnderlayPort("underlay-hello", 0, receiver.LocalEndPoint,
            new UdpUnderlayOptions { ReusePort = true, ReceiveBufferBytes = 256 << 10, SendBufferBytes = 64 << 10 });
        if (receiver.AttachReusePortProgram(HelloSteeringProgram, out _))
        {
            return hello;
        }

        hello.Dispose();
        return null;
    }
}
