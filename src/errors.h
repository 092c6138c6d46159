/* The error codes of the public contract (DESIGN §3): the third value of a runtime
 * failure's `nil, message, code`. A header of its own, without Lua, so the parts of
 * the core that never touch Lua can name them. */
#ifndef EI_ERRORS_H
#define EI_ERRORS_H

#define EI_EINVAL "EINVAL"
#define EI_EAUTH "EAUTH"
#define EI_EAPI "EAPI"
#define EI_EHTTP "EHTTP"
#define EI_ETIMEDOUT "ETIMEDOUT"
#define EI_ECONNECT "ECONNECT"
#define EI_EPROTO "EPROTO"
#define EI_ECLOSED "ECLOSED"
#define EI_ECANCELED "ECANCELED"

#endif
