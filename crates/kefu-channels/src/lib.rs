//! kefu-channels: what connects kefu to the outside world's records. The
//! phone importers read what real PBXs and contact centres write and turn it
//! into [`kefu_core::phone::CallRecord`]s, streaming, in bounded memory.

pub mod phone;
