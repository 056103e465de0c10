#!/usr/bin/env node
// nodemailer's smtp-server (npm) on loopback, for libsmtp's interop matrix.
//
// Listeners: SMTP with STARTTLS (--port), SMTP over implicit TLS
// (--tls-port), LMTP over TCP (--lmtp-port) and over a Unix socket
// (--lmtp-socket). AUTH PLAIN, LOGIN and CRAM-MD5 for one user, offered
// after STARTTLS or over implicit TLS. Recipients of --domain are
// accepted, any other refused (550 5.7.1). Each message received is
// written, as received (after dot-unstuffing), to OUTDIR/NNNNNN.eml.
// Prints "ready" once every listener accepts. Runs until killed.
'use strict'

const fs = require('fs')
const path = require('path')

function parseArgs(argv) {
    const a = {}
    for (let i = 2; i < argv.length; i += 2) a[argv[i].replace(/^--/, '')] = argv[i + 1]
    for (const k of ['port', 'tls-port', 'lmtp-port', 'lmtp-socket', 'outdir', 'cert', 'key', 'user', 'password', 'domain']) {
        if (a[k] === undefined) throw new Error(`smtp_server.js: --${k} is required`)
    }
    return a
}

const args = parseArgs(process.argv)
let SMTPServer
try {
    ;({ SMTPServer } = require('smtp-server'))
} catch (e) {
    process.stderr.write(`smtp_server.js: the smtp-server module is missing (npm install smtp-server): ${e.message}\n`)
    process.exit(3)
}

let count = 0

function store(stream, session, callback) {
    count += 1
    const name = path.join(args.outdir, String(count).padStart(6, '0'))
    const out = fs.createWriteStream(`${name}.tmp`)
    stream.pipe(out)
    out.on('finish', () => {
        if (stream.sizeExceeded) {
            fs.unlinkSync(`${name}.tmp`)
            const err = new Error('Message too big')
            err.responseCode = 552
            return callback(err)
        }
        fs.renameSync(`${name}.tmp`, `${name}.eml`)
        callback(null, '2.0.0 stored')
    })
}

function options(extra) {
    return Object.assign(
        {
            name: 'smtp-server.test',
            key: fs.readFileSync(args.key),
            cert: fs.readFileSync(args.cert),
            size: 64 * 1024 * 1024,
            authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5'],
            authOptional: true,
            disableReverseLookup: true,
            hideDSN: false,
            hideSMTPUTF8: false,
            hide8BITMIME: false,
            hideENHANCEDSTATUSCODES: false,
            logger: false,
            onAuth(auth, session, callback) {
                const ok = auth.username === args.user &&
                    (auth.method === 'CRAM-MD5' ? auth.validatePassword(args.password) : auth.password === args.password)
                if (!ok) return callback(new Error('Authentication credentials invalid'))
                callback(null, { user: auth.username })
            },
            onRcptTo(address, session, callback) {
                const domain = address.address.split('@').pop().toLowerCase()
                if (domain !== args.domain) {
                    const err = new Error('Relaying denied')
                    err.responseCode = 550
                    return callback(err)
                }
                callback()
            },
            onData: store,
        },
        extra,
    )
}

const servers = [
    [new SMTPServer(options({})), args.port],
    [new SMTPServer(options({ secure: true })), args['tls-port']],
    [new SMTPServer(options({ lmtp: true, hideSTARTTLS: true, disabledCommands: ['AUTH', 'STARTTLS'] })), args['lmtp-port']],
    [new SMTPServer(options({ lmtp: true, hideSTARTTLS: true, disabledCommands: ['AUTH', 'STARTTLS'] })), args['lmtp-socket']],
]
let listening = 0
for (const [server, where] of servers) {
    server.on('error', (e) => process.stderr.write(`smtp-server error: ${e.stack || e}\n`))
    const done = () => {
        listening += 1
        if (listening === servers.length) process.stdout.write('ready\n')
    }
    if (/^\d+$/.test(where)) server.listen(Number(where), '127.0.0.1', done)
    else server.listen(where, done)
}
